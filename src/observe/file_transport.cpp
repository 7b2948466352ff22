#include "pgwarden/observe/file_transport.hpp"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace pgw::observe {

std::unique_ptr<FileTransport> FileTransport::to_stdout() {
  return std::unique_ptr<FileTransport>(new FileTransport(stdout, ""));
}

std::unique_ptr<FileTransport> FileTransport::to_file(const std::string& path) {
  auto t = std::unique_ptr<FileTransport>(new FileTransport(nullptr, path));
  std::string error;
  if (!t->open(error)) throw std::runtime_error(error);
  return t;
}

FileTransport::~FileTransport() {
  if (file_ && !path_.empty()) std::fclose(file_);
}

bool FileTransport::open(std::string& error) {
  file_ = std::fopen(path_.c_str(), "a");
  if (!file_) error = fmt::format("cannot open event file {}: {}", path_, std::strerror(errno));
  return file_ != nullptr;
}

bool FileTransport::deliver(const std::vector<SerializedEvent>& batch, std::string& error) {
  if (!file_ && !open(error)) return false;
  for (auto& ev : batch) {
    std::fwrite(ev.json.data(), 1, ev.json.size(), file_);
    std::fputc('\n', file_);
  }
  if (std::fflush(file_) != 0 || std::ferror(file_)) {
    error = fmt::format("cannot write to {}: {}", path_.empty() ? "stdout" : path_,
                        std::strerror(errno));
    std::clearerr(file_);
    return false;
  }
  return true;
}

void FileTransport::reopen() {
  if (path_.empty()) return;
  if (file_) std::fclose(file_);
  std::string error;
  open(error);  // on failure the next deliver() retries the open and reports it
}

}  // namespace pgw::observe
