#pragma once
// Processes of the local stack: free ports, detached children with their
// output in a log file, liveness by PID, and stopping with a bound.
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace pgw::repro {

// A TCP port on 127.0.0.1 that nothing listens on right now.
int free_loopback_port();
// A TCP connect to 127.0.0.1:port succeeds.
bool port_accepts(int port);
// The process exists and is not a zombie.
bool process_alive(pid_t pid);

// Starts argv[0] (a path) in its own session, stdin from /dev/null, stdout
// and stderr appended to `log`. Throws std::runtime_error when it cannot.
pid_t spawn_detached(const std::vector<std::string>& argv, const std::filesystem::path& log);

// Waits until every port accepts while `pid` stays alive; false when the
// process died or `timeout` passed.
bool wait_ports_ready(pid_t pid, const std::vector<int>& ports, std::chrono::milliseconds timeout);

// Sends `signal`, waits up to `grace` for the process to go, then SIGKILLs it
// and waits again. True when it is gone at the end.
bool stop_process(pid_t pid, int signal, std::chrono::milliseconds grace);

// Runs a shell command, its stdout (and stderr, when the command redirects
// it) appended to `out`. Returns the exit status, -1 when it did not exit.
int run_shell(const std::string& cmd, std::string* out = nullptr);
std::string shell_quote(const std::string& s);
// `cmd` as the "postgres" OS user when we are root (postgres refuses root).
std::string as_postgres_user(const std::string& cmd);
// Gives a path to the "postgres" OS user when we are root.
void chown_to_postgres(const std::filesystem::path& p);

// The last `lines` lines of a file ("" when it cannot be read).
std::string log_tail(const std::filesystem::path& log, int lines);

}  // namespace pgw::repro
