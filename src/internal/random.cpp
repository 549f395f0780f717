#include "internal/random.h"

#if !defined(_WIN32)
#include <pthread.h>
#endif

#include <atomic>
#include <climits>
#include <cstring>
#include <memory>
#include <new>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "internal/openssl.h"

namespace tokenpass::internal {

namespace {

// Security: fork safety. The child of a fork() starts with a copy of every block its
// parent held, and the parent goes on handing those bytes out: two processes would issue
// the same jtis. A pthread_atfork child handler bumps this generation in the child, so
// that every block drawn before the fork is stale there. Checking getpid() instead would
// also notice a raw clone, but it is a system call, about 1 µs on the VMs we measured:
// half of what the block saves. (It would also be fooled by a pid that is reused, or
// that repeats in a new pid namespace.) The load below is a plain read.
std::atomic<std::uint64_t> g_fork_generation{0};

#if defined(_WIN32)
bool fork_handler_installed() noexcept { return true; }  // no fork()
#else
void forked_child() noexcept { g_fork_generation.fetch_add(1, std::memory_order_relaxed); }

// fork_handler_installed: registers the handler once, before any block is drawn, so that
// no block predates it. (glibc removes it if the library is unloaded.)
bool fork_handler_installed() noexcept {
  static const bool installed = pthread_atfork(nullptr, nullptr, &forked_child) == 0;
  return installed;
}
#endif

// draw: `n` bytes straight from RAND_bytes.
bool draw(unsigned char* out, std::size_t n) noexcept {
  if (n == 0) return true;
  if (n <= static_cast<std::size_t>(INT_MAX) && RAND_bytes(out, static_cast<int>(n)) == 1) {
    return true;
  }
  clear_openssl_errors();
  return false;
}

// Set once this thread's block is destroyed (trivially destructible, so that it can still
// be read): a token issued from a later thread_local destructor draws straight from
// RAND_bytes.
thread_local bool t_block_gone = false;

// ThreadBlock: this thread's RandomBlock, allocated on first use, so that threads that
// never issue a token carry only a pointer.
struct ThreadBlock {
  std::unique_ptr<RandomBlock> block;
  ThreadBlock() = default;
  ThreadBlock(const ThreadBlock&) = delete;
  ThreadBlock& operator=(const ThreadBlock&) = delete;
  ~ThreadBlock() { t_block_gone = true; }  // then `block` wipes itself
};

RandomBlock* thread_block() noexcept {
  if (t_block_gone) return nullptr;
  thread_local ThreadBlock mine;
  if (!mine.block) mine.block.reset(new (std::nothrow) RandomBlock);
  return mine.block.get();
}

}  // namespace

RandomBlock::~RandomBlock() { OPENSSL_cleanse(bytes_, sizeof bytes_); }

std::size_t RandomBlock::left() const noexcept {
  if (generation_ != g_fork_generation.load(std::memory_order_relaxed)) return 0;
  return kRandomBlock - next_;
}

bool RandomBlock::take(unsigned char* out, std::size_t n) noexcept {
  if (n > kRandomBlock) return false;
  if (!fork_handler_installed()) return draw(out, n);
  const std::uint64_t generation = g_fork_generation.load(std::memory_order_relaxed);
  if (generation_ != generation || kRandomBlock - next_ < n) {
    // A block drawn before a fork (in the child) or used up: draw a new one. The bytes
    // left over are overwritten, or wiped if the draw fails.
    next_ = kRandomBlock;
    if (!draw(bytes_, sizeof bytes_)) {
      OPENSSL_cleanse(bytes_, sizeof bytes_);
      return false;
    }
    next_ = 0;
    generation_ = generation;
  }
  std::memcpy(out, bytes_ + next_, n);
  // Each byte is handed out once and leaves no copy behind in the block.
  OPENSSL_cleanse(bytes_ + next_, n);
  next_ += n;
  return true;
}

bool buffered_random_bytes(unsigned char* out, std::size_t n) noexcept {
  RandomBlock* block = n <= kRandomBlock ? thread_block() : nullptr;
  if (block == nullptr) return draw(out, n);
  return block->take(out, n);
}

}  // namespace tokenpass::internal
