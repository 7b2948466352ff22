#pragma once
// JSON lines to stdout or to a file opened in append mode; reopen() lets
// logrotate move the file away (SIGUSR1) without losing events.
#include <cstdio>
#include <memory>
#include <string>

#include "pgwarden/observe/sink.hpp"

namespace pgw::observe {

class FileTransport : public Transport {
 public:
  static std::unique_ptr<FileTransport> to_stdout();
  // Throws std::runtime_error when the file cannot be opened.
  static std::unique_ptr<FileTransport> to_file(const std::string& path);
  ~FileTransport() override;
  FileTransport(const FileTransport&) = delete;
  FileTransport& operator=(const FileTransport&) = delete;

  // One line per event, then fflush, so a crash loses at most this batch.
  bool deliver(const std::vector<SerializedEvent>& batch, std::string& error) override;
  // Reopens the path; if that fails, deliveries fail (and are retried) until
  // the path can be opened again, rather than writing into a rotated file.
  void reopen() override;

 private:
  FileTransport(FILE* f, std::string path) : file_(f), path_(std::move(path)) {}
  bool open(std::string& error);
  FILE* file_;
  std::string path_;  // empty for stdout
};

}  // namespace pgw::observe
