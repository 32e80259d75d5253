/* Entry point of the `spillway` binary; everything else lives in the sw_serving library
 * so that tests can drive the same code. */
#include "cli/cli.h"

int main(int argc, char **argv) { return sw_cli_main(argc, argv); }
