// The ssepp release this copy of the headers belongs to.
#pragma once

#define SSEPP_VERSION_MAJOR 0
#define SSEPP_VERSION_MINOR 1
#define SSEPP_VERSION_PATCH 0
/// Single number for preprocessor comparisons: major * 10000 + minor * 100 + patch.
#define SSEPP_VERSION \
  (SSEPP_VERSION_MAJOR * 10000 + SSEPP_VERSION_MINOR * 100 + SSEPP_VERSION_PATCH)
