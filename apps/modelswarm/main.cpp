// The modelswarm executable: all logic lives in the library.
#include "modelswarm/cli/cli.h"

int main(int argc, char** argv) { return modelswarm::run_cli(argc, argv); }
