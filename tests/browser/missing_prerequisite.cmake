# Stands in for a test whose prerequisites are missing when they are
# required (SSEPP_REQUIRE_BROWSER_TESTS=ON): fails, saying what is missing.
message(FATAL_ERROR "${REASON}")
