#include "proxy/cli.hpp"

int main(int argc, char** argv) { return ward::proxy::run_cli(argc, argv); }
