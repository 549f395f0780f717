// The one place tests include Catch2: v3 where found, Debian 12's v2.13 otherwise.
#pragma once

#if __has_include(<catch2/catch_all.hpp>)
#include <catch2/catch_all.hpp>
#else
#include <catch2/catch.hpp>
#endif
