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
    explicit FunctionFront(awaitable<void> (*function)(Session&)) : serve_(function) {}
    awaitable<void> serve(Session& session) const override { return serve_(session); }

private:
    awaitable<void> (*serve_)(Session&);
};

}  // namespace

std::shared_ptr<const Front> make_front(awaitable<void> (*serve)(Session&)) {
    return std::make_shared<FunctionFront>(serve);
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

}  // namespace ward::proxy
