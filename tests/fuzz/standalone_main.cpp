// A main() for fuzz targets built without libFuzzer: runs
// LLVMFuzzerTestOneInput once for every file named on the command line or
// found (recursively) in a named directory, so seed corpora and saved
// crashes replay under CTest with any compiler. Arguments starting with '-'
// are libFuzzer flags and are skipped, so a libFuzzer command line works.
// Exits nonzero when a path is missing or no input was found, so a moved
// corpus cannot make the replay pass vacuously; a finding stops the process
// inside the target (trap or sanitizer report).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

bool replay(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", file.string().c_str());
    return false;
  }
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in),
                                std::istreambuf_iterator<char>()};
  std::fprintf(stderr, "replaying %s (%zu bytes)\n", file.string().c_str(), bytes.size());
  // Copied into an allocation of exactly the input's size, as libFuzzer
  // does, so ASan catches reads past the end.
  const auto copy = std::make_unique<std::uint8_t[]>(bytes.size());
  std::copy(bytes.begin(), bytes.end(), reinterpret_cast<char*>(copy.get()));
  LLVMFuzzerTestOneInput(copy.get(), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  std::size_t inputs = 0;
  bool ok = true;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (!arg.empty() && arg[0] == '-') continue;
    const std::filesystem::path path(arg);
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::recursive_directory_iterator(path, ec)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());  // the same order on every run
      for (const auto& file : files) {
        ok = replay(file) && ok;
        ++inputs;
      }
    } else if (std::filesystem::is_regular_file(path, ec)) {
      ok = replay(path) && ok;
      ++inputs;
    } else {
      std::fprintf(stderr, "no such file or directory: %s\n", arg.c_str());
      ok = false;
    }
    if (ec) {
      std::fprintf(stderr, "cannot list %s: %s\n", arg.c_str(), ec.message().c_str());
      ok = false;
    }
  }
  if (inputs == 0) {
    std::fprintf(stderr, "usage: %s FILE_OR_DIRECTORY... (replays each input once)\n", argv[0]);
    return 2;
  }
  std::fprintf(stderr, "%zu inputs replayed%s\n", inputs, ok ? "" : ", with errors");
  return ok ? 0 : 1;
}
