// The integration tests' runner: the real ykc-bridge against a real mosquitto, chargers over real TCP.
#define DOCTEST_CONFIG_IMPLEMENT_WITH_MAIN
#include <doctest/doctest.h>
