// Random bytes for jtis, drawn from OpenSSL's CSPRNG a block at a time. Never included
// from a public header.
//
// Why: on OpenSSL 3.0 a RAND_bytes call costs about 2 µs whatever its size up to a few
// KiB (a getpid() system call to notice a fork, locks, the DRBG's update step), half of
// an HS256 token. One call per kRandomBlock bytes spreads that over 256 jtis. The bytes
// are the same CSPRNG's output: a block is one generate request (OpenSSL's CTR-DRBG
// allows 64 KiB per request), and no byte is handed out twice.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tokenpass::internal {

// kRandomBlock: the bytes a RandomBlock draws at a time (256 jtis of 16 bytes).
constexpr std::size_t kRandomBlock = 4096;

// RandomBlock: kRandomBlock bytes from RAND_bytes, handed out front to back, each byte
// once. Handed-out bytes are wiped in the block at once, the rest when the block is
// destroyed or redrawn. Security: after fork() the child never hands out bytes the block
// held at the fork (the parent may hand out the same ones): a process-wide fork
// generation, bumped in the child by a pthread_atfork handler, makes every block drawn
// before the fork stale, and a stale block is wiped and redrawn (OpenSSL reseeds its
// DRBG in the child). A child made without fork()'s handlers (a raw clone system call,
// `_Fork`) is not noticed. Without the handler (pthread_atfork failed), every take is
// its own RAND_bytes call. Not thread-safe: one per thread (buffered_random_bytes).
class RandomBlock {
 public:
  RandomBlock() noexcept = default;
  ~RandomBlock();
  RandomBlock(const RandomBlock&) = delete;
  RandomBlock& operator=(const RandomBlock&) = delete;

  // take writes `n` (at most kRandomBlock) fresh random bytes to `out`. False when `n`
  // is larger or RAND_bytes failed (then the OpenSSL error queue is cleared).
  bool take(unsigned char* out, std::size_t n) noexcept;

  // left: the bytes the next takes hand out before a redraw (0 when none is drawn yet,
  // or the block was drawn before a fork and this is the child).
  std::size_t left() const noexcept;

 private:
  unsigned char bytes_[kRandomBlock];
  std::size_t next_ = kRandomBlock;  // bytes_[next_, kRandomBlock) are unused
  std::uint64_t generation_ = 0;     // the fork generation it was drawn in
};

// buffered_random_bytes writes `n` fresh random bytes to `out` from this thread's
// RandomBlock (made on the thread's first call, wiped when the thread exits), or
// straight from RAND_bytes when `n` exceeds kRandomBlock or the thread's block is gone
// (a call from a late thread_local destructor) or could not be allocated. False when
// RAND_bytes failed. Thread-safe.
bool buffered_random_bytes(unsigned char* out, std::size_t n) noexcept;

}  // namespace tokenpass::internal
