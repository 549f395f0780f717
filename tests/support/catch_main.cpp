// Catch2 2.x needs one translation unit that defines main; Catch2 3 links it.
#define CATCH_CONFIG_MAIN
#include "support/catch.h"
