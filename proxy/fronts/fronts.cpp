// SPDX-License-Identifier: Apache-2.0
#include "proxy/fronts/fronts.hpp"

#include "proxy/cluster/member.hpp"
#include "proxy/fronts/admin/admin_plane.hpp"
#include "proxy/fronts/exchange/exchange_front.hpp"
#include "proxy/fronts/sip/sip_front.hpp"
#include "proxy/fronts/tls/tls_front.hpp"
#include "proxy/fronts/web/web_front.hpp"
#include "proxy/fronts/xmpp/xmpp_front.hpp"

namespace ward::proxy {

void register_fronts() {
    static bool done = false;  // the program registers once, before any thread starts
    if (done) return;
    done = true;
    using config::Protocol;
    // One line per listener kind.
    register_front(Protocol::tls, tls_front());
    register_front(Protocol::tls_outbound, tls_front());
    register_front(Protocol::sip, sip_front());
    register_front(Protocol::sip_outbound, sip_front());
    register_front(Protocol::sip_return, sip_front());
    register_front(Protocol::xmpp_client, xmpp_inbound_front());
    register_front(Protocol::xmpp_client_tls, xmpp_inbound_front());
    register_front(Protocol::xmpp_server, xmpp_inbound_front());
    register_front(Protocol::xmpp_server_tls, xmpp_inbound_front());
    register_front(Protocol::xmpp_server_outbound, xmpp_outbound_front());
    register_front(Protocol::xmpp_web, web_front());
    register_front(Protocol::exchange_egress, exchange_front());
    // The admin API (admin:), not a listener kind: the server runs it on its control thread.
    register_admin_plane(&admin::make_admin_plane);
    // A cluster on etcd (cluster:): likewise on the control thread.
    register_cluster_member(&cluster::make_member);
}

}  // namespace ward::proxy
