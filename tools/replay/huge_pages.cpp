// tools/replay/huge_pages.cpp — strata-replay's allocation policy for map-sized blocks: the global
// operator new puts every block of 4 MB or more on 2 MB boundaries and advises the kernel to back it
// with transparent huge pages (this machine's THP mode is `madvise`: nothing is huge unless asked).
//
// Why: a replay from tick 0 first touches two blocks of the map's size at once (9 MB for 16x16
// chunks: the generated world, the unpacked start snapshot), ~2.2k page faults each, costly in a VM;
// with 2 MB pages that is a handful. The policy lives here, in the binary, because sim/ stays pure
// (no system calls): the sim allocates its map with the standard allocator, which ends up here.
// Smaller blocks go to malloc untouched. The advice is only advice: on failure, 4 KB pages.
// Every block, huge or not, is freed with free() (aligned_alloc's blocks included).
#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <new>

namespace {

constexpr size_t huge_page_bytes = size_t{2} << 20;
// Below two huge pages the alignment would waste more than it saves.
constexpr size_t huge_block_bytes_min = 2 * huge_page_bytes;

void* allocate(size_t bytes) {
  if (bytes < huge_block_bytes_min) return std::malloc(bytes == 0 ? 1 : bytes);
  const size_t rounded = (bytes + huge_page_bytes - 1) & ~(huge_page_bytes - 1);
  void* block = std::aligned_alloc(huge_page_bytes, rounded);
  if (block != nullptr) (void)madvise(block, rounded, MADV_HUGEPAGE);
  return block;
}

}  // namespace

void* operator new(size_t bytes) {
  for (;;) {
    if (void* block = allocate(bytes)) return block;
    const std::new_handler handler = std::get_new_handler();
    if (handler == nullptr) throw std::bad_alloc();
    handler();
  }
}

void operator delete(void* block) noexcept { std::free(block); }
void operator delete(void* block, size_t /*bytes*/) noexcept { std::free(block); }
