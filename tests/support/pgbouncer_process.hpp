#pragma once
// A real PgBouncer for side-by-side tests: an ini in a temp dir, a free port
// on 127.0.0.1, run as the postgres user when we are root (PgBouncer refuses
// root), stopped by its own PID when the object goes away.
#include <sys/types.h>

#include <filesystem>
#include <string>

namespace pgw::test {

class PgBouncerProcess {
 public:
  // `databases`: lines for [databases]; `settings`: extra [pgbouncer] lines;
  // `userlist`: auth_file content ("user" "password" lines), if any.
  PgBouncerProcess(const std::string& databases, const std::string& settings,
                   const std::string& userlist = {});
  ~PgBouncerProcess();
  PgBouncerProcess(const PgBouncerProcess&) = delete;
  PgBouncerProcess& operator=(const PgBouncerProcess&) = delete;

  static bool available();
  // Stops PgBouncer (its log is complete afterwards); the destructor also does.
  void stop();
  int port() const { return port_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
  int port_ = 0;
  pid_t child_ = 0;
};

}  // namespace pgw::test
