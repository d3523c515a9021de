// SPDX-License-Identifier: Apache-2.0
#include "proxy/cli.hpp"

int main(int argc, char** argv) { return ward::proxy::run_cli(argc, argv); }
