// SPDX-License-Identifier: Apache-2.0
#include "proxy/exchange/http_auth.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

#include <openssl/crypto.h>

#include "proxy/ops/secrets.hpp"

namespace ward::exchange {

namespace {

bool tchar(char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool token68_char(char c) {
    const auto u = static_cast<unsigned char>(c);
    return std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

}  // namespace

std::vector<Offer> parse_challenges(const std::vector<std::string_view>& values) {
    std::vector<Offer> out;
    for (auto v : values) {
        std::size_t i = 0;
        auto skip_ows = [&] {
            while (i < v.size() && (v[i] == ' ' || v[i] == '\t')) ++i;
        };
        while (i < v.size()) {
            skip_ows();
            if (i < v.size() && v[i] == ',') {
                ++i;
                continue;
            }
            // A token: a scheme, or the name of an auth-param of the challenge before.
            const auto start = i;
            while (i < v.size() && tchar(v[i])) ++i;
            if (i == start) {  // not a token: skip to the next comma (quoted strings respected)
                bool quoted = false;
                while (i < v.size() && (quoted || v[i] != ',')) {
                    if (v[i] == '\\' && quoted) ++i;
                    else if (v[i] == '"') quoted = !quoted;
                    ++i;
                }
                continue;
            }
            const auto name = v.substr(start, i - start);
            const auto after_name = i;
            skip_ows();
            if (i < v.size() && v[i] == '=' && (i + 1 >= v.size() || v[i + 1] != '=')) {
                // An auth-param (name=value): skip its value.
                ++i;
                skip_ows();
                if (i < v.size() && v[i] == '"') {
                    ++i;
                    while (i < v.size() && v[i] != '"') i += v[i] == '\\' ? 2 : 1;
                    ++i;
                } else {
                    while (i < v.size() && tchar(v[i])) ++i;
                }
                continue;
            }
            Offer offer{lower(name), {}};
            i = after_name;
            if (i < v.size() && v[i] == ' ') {
                skip_ows();
                // token68, or the challenge's first auth-param.
                const auto t = i;
                while (i < v.size() && token68_char(v[i])) ++i;
                while (i < v.size() && v[i] == '=') ++i;
                std::size_t j = i;
                while (j < v.size() && (v[j] == ' ' || v[j] == '\t')) ++j;
                if (i > t && (j == v.size() || v[j] == ',')) offer.token = std::string(v.substr(t, i - t));
                else i = t;  // an auth-param: read on as a token
            }
            out.push_back(std::move(offer));
        }
    }
    return out;
}

std::optional<std::string> ntlm_scheme(const std::vector<Offer>& offers) {
    bool negotiate = false;
    for (const auto& o : offers) {
        if (o.scheme == "ntlm") return std::string("NTLM");
        negotiate = negotiate || o.scheme == "negotiate";
    }
    if (negotiate) return std::string("Negotiate");
    return std::nullopt;
}

bool offers_scheme(const std::vector<Offer>& offers, std::string_view scheme) {
    for (const auto& o : offers)
        if (o.scheme == scheme) return true;
    return false;
}

std::optional<ntlm::Bytes> ntlm_token(const std::vector<Offer>& offers, std::string_view scheme) {
    const auto want = lower(scheme);
    for (const auto& o : offers) {
        if (o.scheme != want || o.token.empty()) continue;
        auto decoded = ops::from_base64(o.token);
        if (!decoded) return std::nullopt;
        return ntlm::Bytes(decoded->begin(), decoded->end());
    }
    return std::nullopt;
}

std::string ntlm_authorization(std::string_view scheme, const ntlm::Bytes& message) {
    return std::string(scheme) + " " + ops::base64(std::string_view(reinterpret_cast<const char*>(message.data()), message.size()));
}

std::string basic_authorization(std::string_view user, std::string_view password) {
    std::string pair;
    pair.reserve(user.size() + 1 + password.size());
    pair.append(user).append(1, ':').append(password);
    auto out = "Basic " + ops::base64(pair);
    OPENSSL_cleanse(pair.data(), pair.size());
    return out;
}

std::variant<Credentials, std::string> read_credentials(const std::filesystem::path& file) {
    const auto name = "'" + file.string() + "'";
    // Opened once, not followed if a link, and checked on what was opened (no swap between a
    // check and the read).
    const int fd = ::open(file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return name + (errno == ELOOP ? " is a symbolic link" : " cannot be read");
    struct stat st {};
    std::string problem;
    if (::fstat(fd, &st) != 0) problem = name + " cannot be read";
    else if (!S_ISREG(st.st_mode)) problem = name + " is not a regular file";
    else if (st.st_mode & (S_IRWXG | S_IRWXO))
        problem = name + " can be read or written by others than its owner; make it mode 0600 (chmod 600)";
    else if (st.st_size > 64 * 1024) problem = name + " is larger than 64 KiB";
    std::string contents;
    if (problem.empty()) {
        contents.resize(static_cast<std::size_t>(st.st_size));
        std::size_t got = 0;
        while (got < contents.size()) {
            const auto n = ::read(fd, contents.data() + got, contents.size() - got);
            if (n <= 0) break;
            got += static_cast<std::size_t>(n);
        }
        contents.resize(got);
    }
    ::close(fd);
    if (!problem.empty()) return problem;
    Credentials out;
    std::string error;
    std::size_t line_no = 0;
    std::string_view rest(contents);
    while (!rest.empty() && error.empty()) {
        ++line_no;
        const auto end = rest.find('\n');
        auto line = rest.substr(0, end);
        rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (line.empty() || line.front() == '#') continue;
        const auto where = name + " line " + std::to_string(line_no);
        if (line.rfind("user=", 0) == 0) {
            out.user = std::string(line.substr(5));
            if (out.user.empty() || out.user.find(':') != std::string::npos)
                error = where + ": the user name is empty or has a ':' (which Basic cannot carry)";
        } else if (line.rfind("password=", 0) == 0) {
            out.password = std::string(line.substr(9));
        } else {
            error = where + ": expected user=... or password=...";  // (the line itself is not repeated)
        }
    }
    OPENSSL_cleanse(contents.data(), contents.size());
    if (error.empty() && out.user.empty()) error = name + " has no user= line";
    if (error.empty() && out.password.empty()) error = name + " has no password= line (or it is empty)";
    for (const auto* part : {&out.user, &out.password})
        for (unsigned char c : *part)
            if (error.empty() && (c < 0x20 || c == 0x7f)) error = name + ": the user name or password has a control character";
    if (!error.empty()) return error;
    return out;
}

}  // namespace ward::exchange
