// The page data of a restore plan (src/image/plan.ts), filled on threads of
// its own: each takes the next chunk, reads it from the image, inflates it
// (gzip members, with ISA-L), checks its XXH64 and writes it at its place in
// the plan; or, for a chunk the restorer reads from the image's stored blocks
// itself, checks that layout and the XXH64 and writes nothing. Node's main thread does none of it: before, it read every member
// and hashed every chunk itself while the thread pool inflated, and was the
// bottleneck of a large gzip restart.
//
// The checks are the JavaScript reader's (src/image/decode.ts): our member
// header with the DMTCPDAT tag and the lengths the index gives, the deflate
// data, the gzip CRC and ISIZE, the length, the XXH64. The caller turns a
// failure into the reader's one-line error naming the chunk; when several
// chunks are damaged, the lowest-numbered one is reported, as there: chunks
// are handed out in order, and once one failed no later one starts.
#include <napi.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>
#include "isal.h"
#include "plan_fill.h"
#include "../common/xxh64.h"

namespace {

// Our gzip member (src/image/gzmember.ts): 10 gzip bytes, XLEN, one 'DM'
// subfield holding the tag, logical offset, member and data lengths.
constexpr size_t kMemberHeader = 40;
constexpr size_t kMemberFooter = 8;  // CRC32, ISIZE
constexpr uint8_t kGzipMagic[4] = {0x1f, 0x8b, 8, 0x04};  // ID1 ID2 CM=deflate FLG=FEXTRA
constexpr uint16_t kXlen = 28, kSubfieldLen = 24;
const char kDataTag[8] = {'D', 'M', 'T', 'C', 'P', 'D', 'A', 'T'};
uint16_t Le16(const uint8_t* p) { return p[0] | p[1] << 8; }
uint32_t Le32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24; }

// A job's six numbers in the jobs array (native.d.ts, PlanFillOptions).
enum { kFileOffset, kStoredLen, kLen, kXxh, kPlanPos, kFlags, kJobWords };
// kFlags: the restorer reads this chunk from the image's stored blocks
// itself; check that it is laid out so (every block full but the last) and
// verify it, but write nothing.
constexpr uint64_t kReadByRestorer = 1;
constexpr size_t kStoredMax = 65535, kStoredHead = 5;   // a stored deflate block: BFINAL|BTYPE=00, LEN, NLEN

// Whether the member's deflate data is stored blocks of kStoredMax bytes but the last,
// as src/image/plan.ts computed where each block's bytes are.
bool FullStoredBlocks(const uint8_t* m, uint64_t storedLen, uint64_t len) {
  uint64_t blocks = len == 0 ? 1 : (len + kStoredMax - 1) / kStoredMax;
  if (storedLen != kMemberHeader + len + blocks * kStoredHead + kMemberFooter) return false;
  const uint8_t* b = m + kMemberHeader;
  for (uint64_t k = 0; k < blocks; k++, b += kStoredHead + kStoredMax) {
    uint64_t n = k + 1 < blocks ? kStoredMax : len - k * kStoredMax;
    if (b[0] != (k + 1 < blocks ? 0 : 1) || Le16(b + 1) != n || Le16(b + 3) != (~n & 0xffff)) return false;
  }
  return true;
}


struct Failure {
  uint64_t index = UINT64_MAX;
  std::string kind, detail;
};

// Reads len bytes at pos; "" or what went wrong.
std::string ReadFully(int fd, uint8_t* buf, size_t len, uint64_t pos) {
  for (size_t off = 0; off < len;) {
    ssize_t n = pread(fd, buf + off, len - off, pos + off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return strerror(errno);
    if (n == 0) return "the file ends at offset " + std::to_string(pos + off);
    off += n;
  }
  return "";
}

std::string WriteFully(int fd, const uint8_t* buf, size_t len, uint64_t pos) {
  for (size_t off = 0; off < len;) {
    ssize_t n = pwrite(fd, buf + off, len - off, pos + off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return strerror(errno);
    off += n;
  }
  return "";
}

bool OurDataMember(const uint8_t* m, uint64_t storedLen, uint64_t len) {
  return memcmp(m, kGzipMagic, sizeof kGzipMagic) == 0 && Le16(m + 10) == kXlen && m[12] == 'D' && m[13] == 'M' &&
         Le16(m + 14) == kSubfieldLen && memcmp(m + 16, kDataTag, sizeof kDataTag) == 0 &&
         Le32(m + 32) == storedLen && Le32(m + 36) == len;
}

const char* IsalError(int r) {
  switch (r) {
#ifdef DMTCP_HAVE_ISAL
    case ISAL_INVALID_BLOCK: return "invalid deflate block";
    case ISAL_INVALID_SYMBOL: return "invalid deflate symbol";
    case ISAL_INVALID_LOOKBACK: return "invalid distance too far back";
    case ISAL_INCORRECT_CHECKSUM: return "incorrect data check";
    case ISAL_END_INPUT: return "unexpected end of file";
#endif
    default: return "invalid deflate data";
  }
}

class FillWorker : public Napi::AsyncWorker {
 public:
  FillWorker(Napi::Function cb, int imageFd, int planFd, bool gzip, Napi::BigUint64Array jobs, unsigned threads)
      : Napi::AsyncWorker(cb), imageFd_(imageFd), planFd_(planFd), gzip_(gzip),
        jobs_(jobs.Data()), njobs_(jobs.ElementLength() / kJobWords), threads_(threads ? threads : 1) {
    jobsRef_ = Napi::Persistent(static_cast<Napi::Object>(jobs));
  }

  void Execute() override {
    std::vector<std::thread> helpers;
    for (unsigned i = 1; i < threads_ && i < njobs_; i++) helpers.emplace_back([this] { Run(); });
    Run();
    for (auto& t : helpers) t.join();
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (failure_.index == UINT64_MAX) { Callback().Call({env.Null(), env.Null()}); return; }
    Napi::Object f = Napi::Object::New(env);
    f.Set("index", Napi::Number::New(env, static_cast<double>(failure_.index)));
    f.Set("kind", failure_.kind);
    f.Set("detail", failure_.detail);
    Callback().Call({env.Null(), f});
  }

 private:
  void Fail(uint64_t k, const char* kind, const std::string& detail) {
    std::lock_guard<std::mutex> hold(failMutex_);
    if (k >= failure_.index) return;
    failure_ = {k, kind, detail};
    firstFailed_.store(k);
  }

  // One thread: chunks in the order handed out, until none is left or one failed before.
  void Run() {
    std::vector<uint8_t> in, out;
#ifdef DMTCP_HAVE_ISAL
    std::unique_ptr<struct inflate_state> state;
#endif
    for (;;) {
      uint64_t k = next_.fetch_add(1);
      if (k >= njobs_ || k > firstFailed_.load()) return;
      const uint64_t* j = jobs_ + k * kJobWords;
      uint64_t len = j[kLen];
      if (out.size() < len) out.resize(len);
      if (!gzip_) {
        std::string e = ReadFully(imageFd_, out.data(), len, j[kFileOffset]);
        if (!e.empty()) { Fail(k, "read", e); continue; }
      } else {
#ifdef DMTCP_HAVE_ISAL
        uint64_t stored = j[kStoredLen];
        if (stored < kMemberHeader + kMemberFooter) { Fail(k, "member", ""); continue; }
        if (in.size() < stored) in.resize(stored);
        std::string e = ReadFully(imageFd_, in.data(), stored, j[kFileOffset]);
        if (!e.empty()) { Fail(k, "read", e); continue; }
        if (!OurDataMember(in.data(), stored, len)) { Fail(k, "member", ""); continue; }
        if ((j[kFlags] & kReadByRestorer) && !FullStoredBlocks(in.data(), stored, len)) { Fail(k, "layout", ""); continue; }
        if (!state) state.reset(new struct inflate_state);
        const Isal& isal = LoadIsal();
        isal.inflateInit(state.get());
        state->next_in = in.data() + kMemberHeader;
        state->avail_in = stored - kMemberHeader;
        state->next_out = out.data();
        state->avail_out = len;
        state->crc_flag = ISAL_GZIP_NO_HDR_VER;  // the CRC after the deflate data is checked
        int r = isal.inflate(state.get());
        if (r == ISAL_OUT_OVERFLOW) { Fail(k, "length", "more than " + std::to_string(len)); continue; }
        if (r != ISAL_DECOMP_OK) { Fail(k, "corrupt", IsalError(r)); continue; }
        if (state->avail_in != 0) { Fail(k, "corrupt", "bytes after the gzip trailer"); continue; }
        if (state->total_out != len) { Fail(k, "length", std::to_string(state->total_out)); continue; }
        if (Le32(in.data() + stored - 4) != static_cast<uint32_t>(len)) { Fail(k, "corrupt", "incorrect length check"); continue; }
#else
        Fail(k, "corrupt", "internal: no inflater");
        continue;
#endif
      }
      if (xxh64(out.data(), len, 0) != j[kXxh]) { Fail(k, "checksum", ""); continue; }
      if (j[kFlags] & kReadByRestorer) continue;
      std::string e = WriteFully(planFd_, out.data(), len, j[kPlanPos]);
      if (!e.empty()) Fail(k, "write", e);
    }
  }

  int imageFd_, planFd_;
  bool gzip_;
  const uint64_t* jobs_;
  uint64_t njobs_;
  unsigned threads_;
  Napi::ObjectReference jobsRef_;
  std::atomic<uint64_t> next_{0};
  std::atomic<uint64_t> firstFailed_{UINT64_MAX};
  std::mutex failMutex_;
  Failure failure_;
};

// fillPlan(options, cb(err, failure | null))
Napi::Value FillPlan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "fillPlan(options, callback)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  Napi::Value jobs = o.Get("jobs");
  if (!jobs.IsTypedArray() || jobs.As<Napi::TypedArray>().TypedArrayType() != napi_biguint64_array ||
      jobs.As<Napi::TypedArray>().ElementLength() % kJobWords != 0) {
    Napi::TypeError::New(env, "fillPlan: jobs must be a BigUint64Array of 6 numbers per chunk").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  bool gzip = o.Get("gzip").ToBoolean();
  if (gzip && !LoadIsal().ok) {
    Napi::Error::New(env, "internal: fillPlan of a gzip image without ISA-L").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto* w = new FillWorker(info[1].As<Napi::Function>(), o.Get("imageFd").As<Napi::Number>().Int32Value(),
                           o.Get("planFd").As<Napi::Number>().Int32Value(), gzip, jobs.As<Napi::BigUint64Array>(),
                           o.Get("threads").As<Napi::Number>().Uint32Value());
  w->Queue();
  return env.Undefined();
}

// planFillGzip(): whether fillPlan can read gzip images here (ISA-L found).
Napi::Value PlanFillGzip(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), LoadIsal().ok); }

}  // namespace

void InitPlanFill(Napi::Env env, Napi::Object exports) {
  exports.Set("fillPlan", Napi::Function::New(env, FillPlan));
  exports.Set("planFillGzip", Napi::Function::New(env, PlanFillGzip));
}
