// SPDX-License-Identifier: Apache-2.0
#pragma once
// The backend's <stream:features>, as ward passes them on (RFC 6120 section 4.3.2). The backend
// runs without TLS behind ward, so what it offers about TLS and compression is not what the
// client gets: <starttls/> is removed (ward did, or will do, TLS), and so is <compression/>
// (XEP-0138; compression under TLS is the CRIME class of attack). Before TLS with secure mode
// off, ward's own optional <starttls/> is put first.
#include <string>
#include <string_view>

namespace ward::xmpp {

inline constexpr std::string_view kCompressFeatureNs = "http://jabber.org/features/compress";

struct FeaturesRewrite {
    std::string text;  // what to send on
    int removed = 0;   // how many offers were taken out
};

// `raw` is one complete element, as received. Anything that is not a <features> element in the
// streams namespace (a stream error, say) is passed on unchanged. The prefix the backend bound
// to the streams namespace is kept: `raw` is serialised again only when something changes.
FeaturesRewrite rewrite_features(std::string_view raw, bool offer_starttls);

// Whether a complete <features> element offers <starttls/> (the initiating side's question).
bool offers_starttls(std::string_view raw);

}  // namespace ward::xmpp
