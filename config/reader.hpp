// SPDX-License-Identifier: Apache-2.0
#pragma once
// The loader's YAML reader (loader.cpp): walks the tree, filling the model and the source map,
// reporting into diagnostics. Internal to config/: the value setters every section uses.
#include <charconv>
#include <filesystem>
#include <functional>
#include <set>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "config/config.hpp"
#include "config/diagnostics.hpp"
#include "config/values.hpp"

namespace ward::config::detail {

namespace fs = std::filesystem;

// Walks the YAML tree, filling the model and the source map, reporting into diagnostics.
class Reader {
public:
    Reader(Diagnostics& diagnostics, SourceMap& sources, fs::path base)
        : diag_(diagnostics), sources_(sources), base_(std::move(base)) {}

    void read(const YAML::Node& root, Config& config);

private:
    using Keys = std::vector<std::string_view>;

    static Mark mark_of(const YAML::Node& n) {
        const auto m = n.Mark();
        if (m.is_null()) return {};
        return {m.line + 1, m.column + 1};
    }

    void error(const YAML::Node& n, const std::string& path, std::string message) {
        diag_.error(mark_of(n), path, std::move(message));
    }

    // A mapping whose keys are all among `known`; reports unknown and repeated keys.
    bool map(const YAML::Node& n, const std::string& path, const Keys& known) {
        sources_.set(path, mark_of(n));
        if (!n.IsMap()) {
            error(n, path, "expected a mapping");
            return false;
        }
        std::set<std::string> seen;
        for (const auto& kv : n) {
            const auto key = kv.first.Scalar();
            const auto where = join(path, key);
            sources_.set(where, mark_of(kv.second));
            if (!seen.insert(key).second) {
                error(kv.first, where, "repeated key '" + key + "'");
                continue;
            }
            if (std::find(known.begin(), known.end(), key) == known.end()) {
                auto message = "unknown key '" + key + "'";
                if (auto s = suggest(key, known); !s.empty()) message += "; did you mean '" + s + "'?";
                error(kv.first, where, std::move(message));
            }
        }
        return true;
    }

    static std::string join(const std::string& path, std::string_view key) {
        return path.empty() ? std::string(key) : path + "." + std::string(key);
    }

    static std::string index(const std::string& path, std::size_t i) {
        return path + "[" + std::to_string(i) + "]";
    }

    // Calls f(node, path) for a present, non-null key of a mapping.
    template <class F>
    void field(const YAML::Node& map, std::string_view key, const std::string& path, F&& f) {
        if (!map.IsMap()) return;
        const auto n = map[std::string(key)];
        if (!n.IsDefined() || n.IsNull()) return;
        const auto where = join(path, key);
        f(n, where);
    }

    // Like field, but reports a missing key at the mapping.
    template <class F>
    void required(const YAML::Node& map, std::string_view key, const std::string& path, F&& f) {
        if (!map.IsMap()) return;
        const auto n = map[std::string(key)];
        if (!n.IsDefined() || n.IsNull()) {
            error(map, join(path, key), "missing required key '" + std::string(key) + "'");
            return;
        }
        const auto where = join(path, key);
        f(n, where);
    }

    std::optional<std::string> scalar(const YAML::Node& n, const std::string& path) {
        if (!n.IsScalar()) {
            error(n, path, "expected a single value");
            return std::nullopt;
        }
        return n.Scalar();
    }

    std::optional<std::string> text(const YAML::Node& n, const std::string& path) {
        auto s = scalar(n, path);
        if (s && s->empty()) {
            error(n, path, "must not be empty");
            return std::nullopt;
        }
        return s;
    }

    void set_string(const YAML::Node& n, const std::string& path, std::string& out) {
        if (auto s = text(n, path)) out = *s;
    }

    void set_bool(const YAML::Node& n, const std::string& path, bool& out) {
        auto s = scalar(n, path);
        if (!s) return;
        if (*s == "true") out = true;
        else if (*s == "false") out = false;
        else error(n, path, "'" + *s + "' is not a boolean (true or false)");
    }

    template <class Int>
    void set_int(const YAML::Node& n, const std::string& path, Int& out, Int min, Int max) {
        auto s = scalar(n, path);
        if (!s) return;
        long long v = 0;
        auto [p, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
        if (ec != std::errc{} || p != s->data() + s->size()) {
            error(n, path, "'" + *s + "' is not a whole number");
        } else if (v < static_cast<long long>(min) || v > static_cast<long long>(max)) {
            error(n, path, "" + *s + " is out of range (" + std::to_string(min) + " to " +
                               std::to_string(max) + ")");
        } else {
            out = static_cast<Int>(v);
        }
    }

    void set_duration(const YAML::Node& n, const std::string& path, Duration& out) {
        auto s = scalar(n, path);
        if (!s) return;
        if (auto d = parse_duration(*s); !d) {
            error(n, path, "'" + *s + "' is not a duration (a number with ms, s, m or h, e.g. 10s)");
        } else if (d->count() <= 0) {
            error(n, path, "must be longer than zero");
        } else if (*d > std::chrono::hours(24 * 30)) {
            // Deadlines are points on the steady clock: far beyond any use, they overflow it.
            error(n, path, "'" + *s + "' is longer than 30 days");
        } else {
            out = *d;
        }
    }

    void set_size(const YAML::Node& n, const std::string& path, std::uint32_t& out, std::uint64_t min,
                  std::uint64_t max) {
        auto s = scalar(n, path);
        if (!s) return;
        auto v = parse_size(*s);
        if (!v) {
            error(n, path, "'" + *s + "' is not a size (bytes, or a number with KiB or MiB, e.g. 16KiB)");
        } else if (*v < min || *v > max) {
            error(n, path, "" + *s + " is out of range (" + format_size(min) + " to " + format_size(max) + ")");
        } else {
            out = static_cast<std::uint32_t>(*v);
        }
    }

    template <class E>
    void set_enum(const YAML::Node& n, const std::string& path, E& out, std::string_view what) {
        auto s = scalar(n, path);
        if (!s) return;
        if (auto v = parse_enum<E>(*s)) {
            out = *v;
            return;
        }
        Keys names = enum_names<E>();
        std::string list;
        for (auto name : names) list += (list.empty() ? "" : ", ") + std::string(name);
        auto message = "'" + *s + "' is not " + std::string(what) + " (" + list + ")";
        if (auto sug = suggest(*s, names); !sug.empty()) message += "; did you mean '" + sug + "'?";
        error(n, path, std::move(message));
    }

    void set_path(const YAML::Node& n, const std::string& path, FilePath& out) {
        auto s = text(n, path);
        if (!s) return;
        out.written = *s;
        fs::path p(*s);
        out.resolved = p.is_absolute() ? p : (base_ / p).lexically_normal();
    }

    // Like set_path, and the file (or folder) must exist.
    void set_existing_path(const YAML::Node& n, const std::string& path, FilePath& out, bool folder) {
        set_path(n, path, out);
        if (out.empty()) return;
        std::error_code ec;
        const auto st = fs::status(out.resolved, ec);
        if (ec || !fs::exists(st)) {
            error(n, path, std::string(folder ? "folder" : "file") + " '" + out.resolved.string() +
                               "' does not exist");
        } else if (folder && !fs::is_directory(st)) {
            error(n, path, "'" + out.resolved.string() + "' is not a folder");
        } else if (!folder && !fs::is_regular_file(st)) {
            error(n, path, "'" + out.resolved.string() + "' is not a regular file");
        }
    }

    std::vector<std::string> string_list(const YAML::Node& n, const std::string& path) {
        std::vector<std::string> out;
        if (!n.IsSequence()) {
            error(n, path, "expected a list");
            return out;
        }
        for (std::size_t i = 0; i < n.size(); ++i) {
            const auto item_path = index(path, i);
            sources_.set(item_path, mark_of(n[i]));
            if (auto s = text(n[i], item_path)) out.push_back(*s);
        }
        return out;
    }

    void set_endpoint(const YAML::Node& n, const std::string& path, Endpoint& out, bool bind) {
        auto s = text(n, path);
        if (!s) return;
        std::string why;
        auto e = parse_endpoint(*s, bind, why);
        if (!e) error(n, path, "'" + *s + "' " + why);
        else out = *e;
    }

    void read_node(const YAML::Node& n, const std::string& path, Node& out);
    void read_security(const YAML::Node& n, const std::string& path, Security& out);
    void read_limits(const YAML::Node& n, const std::string& path, Limits& out, bool listener_level);
    void read_certificates(const YAML::Node& n, const std::string& path, Config& config);
    void read_trust_stores(const YAML::Node& n, const std::string& path, Config& config);
    void read_peer_subjects(const YAML::Node& n, const std::string& path, Config& config);
    void read_contexts(const YAML::Node& n, const std::string& path, Config& config);
    void read_listeners(const YAML::Node& n, const std::string& path, Config& config);
    void read_listener(const YAML::Node& n, const std::string& path, const Config& config, Listener& out);
    void read_web(const YAML::Node& n, const std::string& path, XmppWebOptions& out);
    void read_exchange(const YAML::Node& n, const std::string& path, ExchangeOptions& out);
    void read_cluster(const YAML::Node& n, const std::string& path, Cluster& out);  // cluster.cpp


    Diagnostics& diag_;
    SourceMap& sources_;
    fs::path base_;
};

}  // namespace ward::config::detail
