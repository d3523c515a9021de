// SPDX-License-Identifier: Apache-2.0
#include "xmpp/expat_memory.hpp"

#include <cstdlib>
#include <utility>

namespace ward::xmpp {

namespace {

thread_local std::size_t* t_expat_account = nullptr;

struct alignas(16) BlockHeader {
    std::size_t size;
    std::size_t* account;
};

void* expat_malloc(std::size_t size) {
    auto* h = static_cast<BlockHeader*>(std::malloc(sizeof(BlockHeader) + size));
    if (h == nullptr) return nullptr;
    h->size = size;
    h->account = t_expat_account;
    if (h->account) *h->account += size;
    return h + 1;
}

void expat_free(void* p) {
    if (p == nullptr) return;
    auto* h = static_cast<BlockHeader*>(p) - 1;
    if (h->account) *h->account -= h->size;
    std::free(h);
}

void* expat_realloc(void* p, std::size_t size) {
    if (p == nullptr) return expat_malloc(size);
    auto* h = static_cast<BlockHeader*>(p) - 1;
    const std::size_t old_size = h->size;
    std::size_t* account = h->account;
    auto* moved = static_cast<BlockHeader*>(std::realloc(h, sizeof(BlockHeader) + size));
    if (moved == nullptr) return nullptr;  // (the old block stands, still charged)
    moved->size = size;
    if (account) *account = *account - old_size + size;
    return moved + 1;
}

const XML_Memory_Handling_Suite kCountingMemory{&expat_malloc, &expat_realloc, &expat_free};

}  // namespace

const XML_Memory_Handling_Suite& counting_memory() { return kCountingMemory; }

ChargeTo::ChargeTo(std::size_t& account) : outer_(std::exchange(t_expat_account, &account)) {}

ChargeTo::~ChargeTo() { t_expat_account = outer_; }

}  // namespace ward::xmpp
