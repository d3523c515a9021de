// SPDX-License-Identifier: Apache-2.0
#include "tests/support/background_process.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <doctest/doctest.h>

#include "tests/support/process.hpp"

namespace ward::test {

namespace {

using clock = std::chrono::steady_clock;

int remaining_ms(clock::time_point until) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - clock::now());
    return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

void close_fd(int& fd) {
    if (fd >= 0) ::close(fd);
    fd = -1;
}

}  // namespace

BackgroundProcess::BackgroundProcess(std::vector<std::string> argv, BackgroundOptions options)
    : argv_(std::move(argv)) {
    if (argv_.empty()) {
        error_ = "no program given";
        return;
    }
    int out_pipe[2], err_pipe[2], in_pipe[2] = {-1, -1}, exec_pipe[2];
    if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0 || pipe2(exec_pipe, O_CLOEXEC) != 0 ||
        (options.stdin_pipe && pipe2(in_pipe, O_CLOEXEC) != 0)) {
        error_ = std::string("pipe: ") + std::strerror(errno);
        return;
    }
    std::vector<char*> args;
    for (auto& a : argv_) args.push_back(a.data());
    args.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
        error_ = std::string("fork: ") + std::strerror(errno);
        return;
    }
    if (pid == 0) {
        // The child dies with the test process, whatever happens to the test.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) _exit(126);
        // Signals the test process blocks or ignores must not leak into the program.
        sigset_t none;
        sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);
        ::signal(SIGPIPE, SIG_DFL);
        // (A test run started in the background of a shell without job control ignores these;
        // a program that traps Ctrl-C could not.)
        ::signal(SIGINT, SIG_DFL);
        ::signal(SIGQUIT, SIG_DFL);
        ::dup2(out_pipe[1], 1);
        ::dup2(err_pipe[1], 2);
        if (options.stdin_pipe) {
            ::dup2(in_pipe[0], 0);
        } else {
            const int devnull = ::open("/dev/null", O_RDONLY);
            if (devnull >= 0) ::dup2(devnull, 0);
        }
        if (!options.cwd.empty() && ::chdir(options.cwd.c_str()) != 0) {
            const int e = errno;
            (void)!::write(exec_pipe[1], &e, sizeof e);
            _exit(127);
        }
        ::execvp(args[0], args.data());
        const int e = errno;
        (void)!::write(exec_pipe[1], &e, sizeof e);
        _exit(127);
    }
    pid_ = pid;
    ::close(out_pipe[1]);
    ::close(err_pipe[1]);
    ::close(exec_pipe[1]);
    if (options.stdin_pipe) {
        ::close(in_pipe[0]);
        stdin_fd_ = in_pipe[1];
    }
    out_fd_ = out_pipe[0];
    err_fd_ = err_pipe[0];
    // exec succeeded when the CLOEXEC pipe closes without a word.
    int exec_errno = 0;
    ssize_t got;
    do {
        got = ::read(exec_pipe[0], &exec_errno, sizeof exec_errno);
    } while (got < 0 && errno == EINTR);
    ::close(exec_pipe[0]);
    pidfd_ = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC);
    reader_ = std::thread([this] { reader_loop(); });
    if (got == static_cast<ssize_t>(sizeof exec_errno)) {
        error_ = "cannot run " + argv_[0] + ": " + std::strerror(exec_errno);
        wait_exit(5s);
        return;
    }
    started_ = true;
}

BackgroundProcess::~BackgroundProcess() {
    close_fd(stdin_fd_);
    if (pid_ > 0 && !status_) {
        if (!exited()) {
            ::kill(pid_, SIGTERM);
            if (!wait_exit(3s)) {
                ::kill(pid_, SIGKILL);
                wait_exit(10s);
            }
        }
    }
    if (reader_.joinable()) {
        // Output still in flight after the exit is read; a grandchild holding the pipes open
        // does not keep the test waiting.
        wait_drained(clock::now() + 1s);
        const std::uint64_t one = 1;
        (void)!::write(wake_fd_, &one, sizeof one);
        reader_.join();
    }
    close_fd(out_fd_);
    close_fd(err_fd_);
    close_fd(wake_fd_);
    close_fd(pidfd_);
}

void BackgroundProcess::reader_loop() {
    pollfd fds[3] = {{out_fd_, POLLIN, 0}, {err_fd_, POLLIN, 0}, {wake_fd_, POLLIN, 0}};
    int open_pipes = 2;
    char buf[16384];
    while (open_pipes > 0) {
        const int n = ::poll(fds, 3, -1);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 || (fds[2].revents & POLLIN)) break;
        for (int i = 0; i < 2; ++i) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            const auto got = ::read(fds[i].fd, buf, sizeof buf);
            if (got > 0) {
                {
                    std::lock_guard lock(mutex_);
                    output_.append(buf, static_cast<std::size_t>(got));
                    (i == 0 ? out_ : err_).append(buf, static_cast<std::size_t>(got));
                }
                changed_.notify_all();
            } else if (got == 0 || errno != EINTR) {
                fds[i].fd = -1;  // closed in the destructor
                --open_pipes;
            }
        }
    }
    {
        std::lock_guard lock(mutex_);
        drained_ = true;
    }
    changed_.notify_all();
}

bool BackgroundProcess::wait_drained(clock::time_point until) {
    std::unique_lock lock(mutex_);
    return changed_.wait_until(lock, until, [this] { return drained_; });
}

bool BackgroundProcess::signal(int sig) {
    if (pid_ <= 0 || status_) return false;
    return ::kill(pid_, sig) == 0;
}

bool BackgroundProcess::write_stdin(std::string_view bytes) {
    if (stdin_fd_ < 0) return false;
    // A program that closed its stdin must not kill the test with SIGPIPE: block it on this
    // thread for the write and take a pending one off the queue.
    sigset_t pipe_set, old_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    ::pthread_sigmask(SIG_BLOCK, &pipe_set, &old_set);
    bool ok = true;
    while (!bytes.empty()) {
        const auto n = ::write(stdin_fd_, bytes.data(), bytes.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            ok = false;
            break;
        }
        bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    if (!ok) {
        const timespec zero{0, 0};
        ::sigtimedwait(&pipe_set, nullptr, &zero);
    }
    ::pthread_sigmask(SIG_SETMASK, &old_set, nullptr);
    return ok;
}

void BackgroundProcess::close_stdin() { close_fd(stdin_fd_); }

std::string BackgroundProcess::output() const {
    std::lock_guard lock(mutex_);
    return output_;
}

std::string BackgroundProcess::out() const {
    std::lock_guard lock(mutex_);
    return out_;
}

std::string BackgroundProcess::err() const {
    std::lock_guard lock(mutex_);
    return err_;
}

std::size_t BackgroundProcess::output_size() const {
    std::lock_guard lock(mutex_);
    return output_.size();
}

std::optional<OutputMatch> BackgroundProcess::wait_for(
    const std::function<std::optional<OutputMatch>(const std::string&)>& find, std::chrono::milliseconds deadline,
    std::size_t from) {
    const auto until = clock::now() + deadline;
    std::unique_lock lock(mutex_);
    for (;;) {
        if (from <= output_.size()) {
            if (auto m = find(output_.substr(from))) {
                m->position += from;
                m->end += from;
                return m;
            }
        }
        if (drained_) return std::nullopt;  // no more output will come
        if (changed_.wait_until(lock, until) == std::cv_status::timeout) {
            if (from > output_.size()) return std::nullopt;
            auto m = find(output_.substr(from));
            if (m) {
                m->position += from;
                m->end += from;
            }
            return m;
        }
    }
}

std::optional<OutputMatch> BackgroundProcess::wait_for_output(std::string_view needle,
                                                              std::chrono::milliseconds deadline, std::size_t from) {
    const std::string wanted(needle);
    return wait_for(
        [&wanted](const std::string& text) -> std::optional<OutputMatch> {
            const auto at = text.find(wanted);
            if (at == std::string::npos) return std::nullopt;
            return OutputMatch{at, at + wanted.size(), {wanted}};
        },
        deadline, from);
}

std::optional<OutputMatch> BackgroundProcess::wait_for_output(const std::regex& pattern,
                                                              std::chrono::milliseconds deadline, std::size_t from) {
    return wait_for(
        [&pattern](const std::string& text) -> std::optional<OutputMatch> {
            std::smatch m;
            if (!std::regex_search(text, m, pattern)) return std::nullopt;
            OutputMatch out;
            out.position = static_cast<std::size_t>(m.position(0));
            out.end = out.position + static_cast<std::size_t>(m.length(0));
            for (const auto& g : m) out.groups.push_back(g.str());
            return out;
        },
        deadline, from);
}

bool BackgroundProcess::reap(int options) {
    if (status_) return true;
    if (pid_ <= 0) return false;
    int status = 0;
    pid_t r;
    do {
        r = ::waitpid(pid_, &status, options);
    } while (r < 0 && errno == EINTR);
    if (r != pid_) return false;
    status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
}

bool BackgroundProcess::exited() { return reap(WNOHANG); }

std::optional<int> BackgroundProcess::wait_exit(std::chrono::milliseconds deadline) {
    const auto until = clock::now() + deadline;
    while (!reap(WNOHANG)) {
        const int left = remaining_ms(until);
        if (left == 0) return std::nullopt;
        if (pidfd_ >= 0) {
            // Readable once the process has exited.
            pollfd p{pidfd_, POLLIN, 0};
            ::poll(&p, 1, left);
        } else {
            // No pidfd (kernel before 5.3): check again shortly.
            ::poll(nullptr, 0, std::min(left, 10));
        }
    }
    // Whatever the program wrote before it exited.
    wait_drained(clock::now() + 2s);
    return status_;
}

std::string BackgroundProcess::describe() const {
    std::string text = "$";
    for (const auto& a : argv_) text += " " + a;
    text += "\n(pid " + std::to_string(pid_) + (status_ ? ", exit status " + std::to_string(*status_) : "") + ")\n";
    if (!error_.empty()) text += error_ + "\n";
    return text + output();
}

// --- ports ---------------------------------------------------------------------------------------

std::uint16_t reserve_port() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return 0;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    std::uint16_t port = 0;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0 &&
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) == 0)
        port = ntohs(a.sin_port);
    ::close(fd);
    return port;
}

bool wait_for_port(std::uint16_t port, std::chrono::milliseconds deadline) {
    const auto until = clock::now() + deadline;
    for (;;) {
        const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) return false;
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = htons(port);
        const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
        ::close(fd);
        if (ok) return true;
        const int left = remaining_ms(until);
        if (left == 0) return false;
        ::poll(nullptr, 0, std::min(left, 20));
    }
}

// --- ward ------------------------------------------------------------------------------------------

namespace {

std::string regex_escape(const std::string& text) {
    static const std::regex special(R"([.^$|()\[\]{}*+?\\])");
    return std::regex_replace(text, special, R"(\$&)");
}

std::optional<std::uint16_t> last_port(const std::string& log, const std::regex& pattern) {
    std::optional<std::uint16_t> port;
    for (std::sregex_iterator it(log.begin(), log.end(), pattern), end; it != end; ++it)
        port = static_cast<std::uint16_t>(std::stoul((*it)[1].str()));
    return port;
}

}  // namespace

std::optional<std::uint16_t> listener_port_from_log(const std::string& log, const std::string& name) {
    const std::regex pattern("\\[proxy\\] listener " + regex_escape(name) +
                             R"( \([a-z-]+\) on (?:\[[0-9a-fA-F:.]+\]|[0-9.]+):([0-9]+) with )");
    return last_port(log, pattern);
}

std::optional<std::uint16_t> metrics_port_from_log(const std::string& log) {
    static const std::regex pattern(R"(metrics on http://(?:\[[0-9a-fA-F:.]+\]|[0-9.]+):([0-9]+)/metrics)");
    return last_port(log, pattern);
}

WardProcess::WardProcess(const std::filesystem::path& config, std::chrono::milliseconds deadline)
    : process_({ward_binary(), "run", "-c", config.string()}) {
    REQUIRE_MESSAGE(process_.started(), process_.describe());
    const auto started = process_.wait_for_output("ward started: ", deadline);
    REQUIRE_MESSAGE(started.has_value(), "ward did not start:\n" << process_.describe());
}

std::uint16_t WardProcess::port(const std::string& listener) const {
    const auto port = listener_port_from_log(process_.output(), listener);
    REQUIRE_MESSAGE(port.has_value(), "ward logged no port for listener " << listener << ":\n" << process_.output());
    return *port;
}

std::uint16_t WardProcess::metrics_port() const {
    const auto port = metrics_port_from_log(process_.output());
    REQUIRE_MESSAGE(port.has_value(), "ward logged no metrics endpoint:\n" << process_.output());
    return *port;
}

std::uint64_t WardProcess::rss_bytes() const {
    std::ifstream in("/proc/" + std::to_string(process_.pid()) + "/status");
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind("VmRSS:", 0) != 0) continue;
        std::istringstream fields(line.substr(6));
        std::uint64_t kib = 0;
        fields >> kib;
        return kib * 1024;
    }
    return 0;
}

std::string read_text_file(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace ward::test
