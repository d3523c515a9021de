// SPDX-License-Identifier: Apache-2.0
#pragma once
// The verified identity ward adds to every request it relays from a TLS peer to the backend,
// after removing every copy of that header the peer sent (the RFC 3325 trust-domain rule, as
// for P-Asserted-Identity): the backend trusts the header because only ward can write it.
//
// The header, built once per connection:
//     <name>: <subject>;listener=<listener>;context=<context>
// Each value is written as an RFC 3261 token when it is one (host-name CNs such as
// `peer.example.com` are), else as a quoted-string with `"` and `\` escaped, so that a CN
// holding `;`, `,`, `=`, spaces or quotes cannot add parameters or split the header. A value
// with any control character (CR, LF, NUL, other C0 bytes, DEL) is refused instead: quoting
// cannot make it safe for every backend parser, so the connection is not relayed.
#include <string>
#include <string_view>

#include "config/result.hpp"

namespace ward::sip {

class IdentityStamp {
public:
    // A verified peer. `header_name` must be an RFC 3261 token; `subject` must not be empty.
    static Result<IdentityStamp> make(std::string_view header_name, std::string_view subject,
                                      std::string_view listener, std::string_view context);
    // A peer without a verified certificate (verify_peer optional or none): forged copies of the
    // header are still removed, and none is added, so absence means "not verified".
    static Result<IdentityStamp> unverified(std::string_view header_name);

    const std::string& header_name() const { return name_; }
    // The whole header line with its CRLF; empty for an unverified peer.
    const std::string& line() const { return line_; }

private:
    IdentityStamp() = default;
    std::string name_;
    std::string line_;
};

}  // namespace ward::sip
