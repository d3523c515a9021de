// SPDX-License-Identifier: Apache-2.0
#pragma once
// Long-running programs for end-to-end tests: the ward binary, sipp, stunnel, an HTTP server.
// A BackgroundProcess starts a program, drains its stdout and stderr on a thread of its own
// (so the program never blocks on a full pipe), lets the test wait for a line of output or for
// the exit with a deadline, and stops the program when it goes out of scope: SIGTERM, a short
// wait, then SIGKILL, and always a waitpid. Every wait is bounded; none sleeps to synchronise.
//
// WardProcess starts `ward run -c FILE` and reads the ports it bound from its log, so test
// configurations bind port 0.
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace ward::test {

using namespace std::chrono_literals;

struct BackgroundOptions {
    bool stdin_pipe = false;           // give the program a pipe on stdin (write_stdin); else /dev/null
    std::filesystem::path cwd;         // working directory; empty: the test's
};

// Where wait_for_output found what it waited for.
struct OutputMatch {
    std::size_t position = 0;          // offset in output() where the match starts
    std::size_t end = 0;               // offset just after the match
    std::vector<std::string> groups;   // [0] the whole match, then the regex's groups
};

class BackgroundProcess {
public:
    explicit BackgroundProcess(std::vector<std::string> argv, BackgroundOptions options = {});
    // Stops the program if it still runs (SIGTERM, up to 3 s, SIGKILL) and reaps it.
    ~BackgroundProcess();
    BackgroundProcess(const BackgroundProcess&) = delete;
    BackgroundProcess& operator=(const BackgroundProcess&) = delete;

    // Whether the program was started: false when fork failed or exec failed (see error()).
    bool started() const { return started_; }
    const std::string& error() const { return error_; }
    pid_t pid() const { return pid_; }
    const std::vector<std::string>& argv() const { return argv_; }

    // Sends a signal; false once the program has been reaped (its pid may be someone else's).
    bool signal(int sig);

    // stdin (with BackgroundOptions::stdin_pipe).
    bool write_stdin(std::string_view bytes);
    void close_stdin();

    // Output so far: stdout and stderr interleaved in the order they were read, or each alone.
    std::string output() const;
    std::string out() const;
    std::string err() const;
    std::size_t output_size() const;

    // Waits until output() at or after `from` contains `needle` (or matches `pattern`), the
    // program has exited and all its output was read (nullopt at once), or the deadline passes
    // (nullopt). Regexes run on the whole text after `from`: '.' does not cross lines.
    std::optional<OutputMatch> wait_for_output(std::string_view needle, std::chrono::milliseconds deadline,
                                               std::size_t from = 0);
    std::optional<OutputMatch> wait_for_output(const std::regex& pattern, std::chrono::milliseconds deadline,
                                               std::size_t from = 0);

    // Waits for the program to exit and for its output to be drained: the exit status, or
    // 128 + the signal's number when a signal ended it; nullopt when the deadline passed first.
    std::optional<int> wait_exit(std::chrono::milliseconds deadline);
    // Whether it has exited (reaps it when it has, without waiting).
    bool exited();
    // The exit status once wait_exit or exited saw it.
    std::optional<int> exit_status() const { return status_; }

    // The command line and the output, for failure messages.
    std::string describe() const;

private:
    void reader_loop();
    bool reap(int options);
    std::optional<OutputMatch> wait_for(const std::function<std::optional<OutputMatch>(const std::string&)>& find,
                                        std::chrono::milliseconds deadline, std::size_t from);
    bool wait_drained(std::chrono::steady_clock::time_point until);

    std::vector<std::string> argv_;
    bool started_ = false;
    std::string error_;
    pid_t pid_ = -1;
    int pidfd_ = -1;
    int stdin_fd_ = -1;
    int out_fd_ = -1;
    int err_fd_ = -1;
    int wake_fd_ = -1;  // eventfd: tells the reader to stop
    std::optional<int> status_;

    mutable std::mutex mutex_;
    std::condition_variable changed_;
    std::string output_, out_, err_;
    bool drained_ = false;  // the reader saw EOF on both pipes (or was stopped)
    std::thread reader_;
};

// --- ports ---------------------------------------------------------------------------------------

// A port that was free on 127.0.0.1 a moment ago: bound to port 0, read back, closed. For
// programs that cannot bind port 0 and report it (sipp, stunnel). Another process could take it
// between the close and the program's bind; the kernel hands out ephemeral ports in a rotating
// order, so that window is small, and a program that loses it fails to start (visible at once).
std::uint16_t reserve_port();

// Whether 127.0.0.1:port accepts a TCP connection within the deadline (retries on refusal,
// every 20 ms). The probe connection is closed at once.
bool wait_for_port(std::uint16_t port, std::chrono::milliseconds deadline = 10s);

// --- ward ------------------------------------------------------------------------------------------

// The port of listener `name` from ward's log line
//     ... info [proxy] listener NAME (PROTOCOL) on HOST:PORT with N workers
// (the last such line: a reload that rebinds logs it again); nullopt when there is none.
std::optional<std::uint16_t> listener_port_from_log(const std::string& log, const std::string& name);
// The port of "metrics on http://HOST:PORT/metrics".
std::optional<std::uint16_t> metrics_port_from_log(const std::string& log);

// `ward run -c config`, waited for until it logs "ward started". REQUIREs (through doctest) that
// it starts; the log is in the failure message.
class WardProcess {
public:
    explicit WardProcess(const std::filesystem::path& config, std::chrono::milliseconds deadline = 15s);

    BackgroundProcess& process() { return process_; }
    pid_t pid() const { return process_.pid(); }
    std::string log() const { return process_.output(); }

    // The bound port of a listener (REQUIREs that ward logged it).
    std::uint16_t port(const std::string& listener) const;
    // The metrics endpoint's port (REQUIREs that metrics are enabled).
    std::uint16_t metrics_port() const;

    // Waits for a log line, as BackgroundProcess::wait_for_output.
    std::optional<OutputMatch> wait_for_log(std::string_view needle, std::chrono::milliseconds deadline = 10s,
                                            std::size_t from = 0) {
        return process_.wait_for_output(needle, deadline, from);
    }
    std::optional<OutputMatch> wait_for_log(const std::regex& pattern, std::chrono::milliseconds deadline = 10s,
                                            std::size_t from = 0) {
        return process_.wait_for_output(pattern, deadline, from);
    }

    // VmRSS from /proc/PID/status, in bytes (0 when it cannot be read).
    std::uint64_t rss_bytes() const;

private:
    BackgroundProcess process_;
};

// The text of a file ("" when it cannot be read).
std::string read_text_file(const std::filesystem::path& path);

}  // namespace ward::test
