// SPDX-License-Identifier: Apache-2.0
#pragma once

#include <cstddef>

#include <expat.h>

namespace ward::xmpp {

// Expat's memory, counted per parser owner: a parser made with counting_memory()
// (XML_ParserCreate_MM) charges every block it allocates to the counter named by the ChargeTo
// in force on the calling thread, and every block carries its size and that counter, so it is
// credited back wherever it is freed.
const XML_Memory_Handling_Suite& counting_memory();

// Charges expat's allocations to `account` for the length of a call into expat.
class ChargeTo {
public:
    explicit ChargeTo(std::size_t& account);
    ~ChargeTo();
    ChargeTo(const ChargeTo&) = delete;
    ChargeTo& operator=(const ChargeTo&) = delete;

private:
    std::size_t* outer_;
};

}  // namespace ward::xmpp
