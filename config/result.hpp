// SPDX-License-Identifier: Apache-2.0
#pragma once
// Result<T>: the value of a fallible operation, or the reason it failed. (No std::expected in
// C++20 / g++ 12.) Expected failures travel as Result; exceptions are for bugs.
#include <cassert>
#include <string>
#include <utility>
#include <variant>

namespace ward {

struct Error {
    std::string message;
};

template <class T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}              // NOLINT(google-explicit-constructor)
    Result(Error error) : v_(std::move(error)) {}          // NOLINT(google-explicit-constructor)

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { assert(ok()); return std::get<0>(v_); }
    const T& value() const& { assert(ok()); return std::get<0>(v_); }
    T&& value() && { assert(ok()); return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }

    const std::string& error() const { assert(!ok()); return std::get<1>(v_).message; }

private:
    std::variant<T, Error> v_;
};

// Result of an operation with no value.
class [[nodiscard]] Status {
public:
    Status() = default;
    Status(Error error) : error_(std::move(error.message)), failed_(true) {}  // NOLINT
    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const std::string& error() const { return error_; }

private:
    std::string error_;
    bool failed_ = false;
};

}  // namespace ward
