// Page-data gzip members on libuv's thread pool with ISA-L's igzip (level 1),
// or as stored deflate blocks. One call makes one member's body: the raw
// deflate data and the 8-byte gzip footer (CRC32, ISIZE); the member header is
// the caller's (src/image/gzmember.ts). Without ISA-L (isal.h) the encoder
// deflates with node:zlib (src/image/engine.ts).
#include <napi.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "deflate.h"
#include "isal.h"

namespace {

// A deflate stored block holds at most this many bytes (LEN is 16 bits).
constexpr size_t kStoredMax = 65535;
constexpr size_t kStoredHead = 5;  // BFINAL|BTYPE=00 byte, LEN, NLEN
constexpr size_t kFooter = 8;      // CRC32, ISIZE

// Bytes a stored body of `len` input bytes takes, footer included.
size_t StoredBound(size_t len) {
  size_t blocks = len == 0 ? 1 : (len + kStoredMax - 1) / kStoredMax;
  return len + blocks * kStoredHead + kFooter;
}

void PutLe32(uint8_t* p, uint32_t v) {
  p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24;
}

// Stored blocks of `in` into `out` (StoredBound bytes), then the footer; returns bytes written.
size_t WriteStored(const uint8_t* in, size_t len, uint8_t* out, uint32_t crc) {
  uint8_t* o = out;
  size_t done = 0;
  do {
    size_t n = len - done < kStoredMax ? len - done : kStoredMax;
    o[0] = done + n == len ? 1 : 0;  // BFINAL on the last block
    o[1] = n; o[2] = n >> 8; o[3] = ~n; o[4] = (~n) >> 8;
    memcpy(o + kStoredHead, in + done, n);
    o += kStoredHead + n;
    done += n;
  } while (done < len);
  PutLe32(o, crc);
  PutLe32(o + 4, static_cast<uint32_t>(len));
  return o + kFooter - out;
}

#ifdef DMTCP_HAVE_ISAL
// Per pool thread: the stream (it holds igzip's internal state, ~100 KiB) and level 1's buffer.
struct Level1 {
  struct isal_zstream stream;
  uint8_t* levelBuf = nullptr;
  ~Level1() { free(levelBuf); }
};
thread_local Level1* level1 = nullptr;

// Deflates `in` at level 1 into `out` with the gzip footer; 0 when it would not fit in `cap`.
size_t DeflateIsal(const uint8_t* in, size_t len, uint8_t* out, size_t cap) {
  const Isal& isal = LoadIsal();
  if (!level1) {
    level1 = new Level1();
    level1->levelBuf = static_cast<uint8_t*>(malloc(ISAL_DEF_LVL1_DEFAULT));
  }
  if (!level1->levelBuf) return 0;
  struct isal_zstream* s = &level1->stream;
  isal.deflateInit(s);
  s->next_in = const_cast<uint8_t*>(in);
  s->avail_in = len;
  s->next_out = out;
  s->avail_out = cap;
  s->level = 1;
  s->level_buf = level1->levelBuf;
  s->level_buf_size = ISAL_DEF_LVL1_DEFAULT;
  s->end_of_stream = 1;
  s->flush = NO_FLUSH;
  s->gzip_flag = IGZIP_GZIP_NO_HDR;  // deflate data and the gzip trailer, no header
  if (isal.deflate(s) != COMP_OK || s->avail_in != 0) return 0;
  return s->total_out;
}
#endif

class MemberWorker : public Napi::AsyncWorker {
 public:
  MemberWorker(Napi::Function cb, Napi::Uint8Array in, Napi::Buffer<uint8_t> out, bool stored)
      : Napi::AsyncWorker(cb), in_(in.Data()), len_(in.ByteLength()), out_(out.Data()),
        cap_(out.Length()), stored_(stored) {
    // Keep both alive until the callback (the input is a view of wasm memory
    // that the caller does not grow while this runs, codec.regionIo).
    inRef_ = Napi::Persistent(static_cast<Napi::Object>(in));
    outRef_ = Napi::Persistent(static_cast<Napi::Object>(out));
  }
  void Execute() override {
    if (cap_ < StoredBound(len_)) { SetError("internal: gzip member output buffer too small"); return; }
#ifdef DMTCP_HAVE_ISAL
    if (!stored_) {
      // Anything longer than stored blocks is not worth keeping: cap there.
      n_ = DeflateIsal(in_, len_, out_, StoredBound(len_));
      if (n_ > 0) return;
    }
#endif
    n_ = WriteStored(in_, len_, out_, LoadIsal().crc32(0, in_, len_));
  }
  void OnOK() override {
    Callback().Call({Env().Null(), Napi::Number::New(Env(), static_cast<double>(n_))});
  }

 private:
  const uint8_t* in_;
  size_t len_;
  uint8_t* out_;
  size_t cap_;
  bool stored_;
  size_t n_ = 0;
  Napi::ObjectReference inRef_, outRef_;
};

// gzipEngine(): "isa-l" when members can be made here, else "" (use node:zlib).
Napi::Value GzipEngine(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), LoadIsal().ok ? "isa-l" : "");
}

// storedMemberBound(len): bytes the output buffer of gzipMemberBody needs.
Napi::Value StoredMemberBound(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(StoredBound(info[0].As<Napi::Number>().Int64Value())));
}

// gzipMemberBody(input, stored, out, cb(err, bytes)): on the thread pool.
Napi::Value GzipMemberBody(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!LoadIsal().ok) {
    Napi::Error::New(env, "internal: gzipMemberBody without ISA-L").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* w = new MemberWorker(info[3].As<Napi::Function>(), info[0].As<Napi::Uint8Array>(),
                             info[2].As<Napi::Buffer<uint8_t>>(), info[1].ToBoolean());
  w->Queue();
  return env.Undefined();
}

}  // namespace

void InitDeflate(Napi::Env env, Napi::Object exports) {
  exports.Set("gzipEngine", Napi::Function::New(env, GzipEngine));
  exports.Set("storedMemberBound", Napi::Function::New(env, StoredMemberBound));
  exports.Set("gzipMemberBody", Napi::Function::New(env, GzipMemberBody));
}
