// SPDX-License-Identifier: Apache-2.0
#pragma once
// The JSON report of a finished run (one object on one line of stdout) and the exit status
// it implies; the reasons for a non-zero status also go to stderr.
namespace ward::loadgen {

class Run;

int report(const Run& run);

}  // namespace ward::loadgen
