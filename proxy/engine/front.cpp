// SPDX-License-Identifier: Apache-2.0
#include "proxy/engine/front.hpp"

#include "proxy/engine/control.hpp"

#include <map>

namespace ward::proxy {

namespace {

std::map<config::Protocol, std::shared_ptr<const Front>>& registry() {
    static std::map<config::Protocol, std::shared_ptr<const Front>> fronts;
    return fronts;
}

class FunctionFront final : public Front {
public:
    FunctionFront(awaitable<void> (*function)(Session&), PrepareFunction prepare_function)
        : serve_(function), prepare_(prepare_function) {}
    awaitable<void> serve(Session& session) const override { return serve_(session); }
    std::shared_ptr<const void> prepare(const config::Config& config, const config::Listener& listener,
                                        const std::string& path, config::Diagnostics& diagnostics) const override {
        return prepare_ ? prepare_(config, listener, path, diagnostics) : nullptr;
    }

private:
    awaitable<void> (*serve_)(Session&);
    PrepareFunction prepare_;
};

}  // namespace

std::shared_ptr<const void> Front::prepare(const config::Config&, const config::Listener&, const std::string&,
                                           config::Diagnostics&) const {
    return nullptr;
}

std::shared_ptr<const Front> make_front(awaitable<void> (*serve)(Session&), PrepareFunction prepare) {
    return std::make_shared<FunctionFront>(serve, prepare);
}

void register_front(config::Protocol protocol, std::shared_ptr<const Front> front) {
    registry()[protocol] = std::move(front);
}

std::shared_ptr<const Front> front_for(config::Protocol protocol) {
    const auto& fronts = registry();
    auto it = fronts.find(protocol);
    return it == fronts.end() ? nullptr : it->second;
}

namespace {
AdminPlaneFactory admin_factory = nullptr;
}  // namespace

void register_admin_plane(AdminPlaneFactory factory) { admin_factory = factory; }
AdminPlaneFactory admin_plane_factory() { return admin_factory; }

namespace {
ClusterMemberFactory cluster_factory = nullptr;
}  // namespace

void register_cluster_member(ClusterMemberFactory factory) { cluster_factory = factory; }
ClusterMemberFactory cluster_member_factory() { return cluster_factory; }

}  // namespace ward::proxy
