#include "pgbouncer_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "pg_cluster.hpp"

namespace pgw::test {

namespace {
std::string bouncer_bin() {
  return std::filesystem::exists("/usr/sbin/pgbouncer") ? "/usr/sbin/pgbouncer" : "pgbouncer";
}
}  // namespace

bool PgBouncerProcess::available() {
  return run_command("command -v pgbouncer >/dev/null || test -x /usr/sbin/pgbouncer") == 0;
}

PgBouncerProcess::PgBouncerProcess(const std::string& databases, const std::string& settings,
                                   const std::string& userlist) {
  char tmpl[] = "/tmp/pgwarden-pgbouncer-XXXXXX";
  if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
  dir_ = tmpl;
  const bool root = ::geteuid() == 0;
  if (root) run_command("chown postgres " + dir_.string());
  port_ = free_port();
  auto ini = dir_ / "pgbouncer.ini";
  {
    std::ofstream f(ini);
    f << "[databases]\n"
      << databases << "\n[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = " << port_
      << "\nunix_socket_dir =\nlogfile = " << (dir_ / "pgbouncer.log").string()
      << "\npidfile = " << (dir_ / "pgbouncer.pid").string() << "\n"
      << settings << "\n";
    if (!userlist.empty()) {
      f << "auth_file = " << (dir_ / "userlist.txt").string() << "\n";
      std::ofstream(dir_ / "userlist.txt") << userlist << "\n";
    }
  }
  if (root) run_command("chown -R postgres " + dir_.string());
  const std::string bin = bouncer_bin();
  child_ = ::fork();
  if (child_ == 0) {
    int nul = ::open("/dev/null", O_RDWR);
    ::dup2(nul, 1);
    ::dup2(nul, 2);
    if (root)
      ::execlp("runuser", "runuser", "-u", "postgres", "--", bin.c_str(), ini.c_str(),
               static_cast<char*>(nullptr));
    else
      ::execl(bin.c_str(), bin.c_str(), ini.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  const std::string probe =
      "bash -c 'exec 3<>/dev/tcp/127.0.0.1/" + std::to_string(port_) + "' 2>/dev/null";
  for (int i = 0; i < 200; ++i) {
    if (run_command(probe) == 0) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  throw std::runtime_error("pgbouncer did not start; see " + (dir_ / "pgbouncer.log").string());
}

PgBouncerProcess::~PgBouncerProcess() {
  stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

void PgBouncerProcess::stop() {
  pid_t bouncer = 0;
  {
    std::ifstream pidf(dir_ / "pgbouncer.pid");
    pidf >> bouncer;
  }
  if (bouncer > 0) {
    ::kill(bouncer, SIGTERM);
    if (!wait_process_gone(bouncer, 5)) ::kill(bouncer, SIGKILL);
  }
  if (child_ > 0) {
    ::kill(child_, SIGTERM);
    int status = 0;
    ::waitpid(child_, &status, 0);
    child_ = 0;
  }
}

}  // namespace pgw::test
