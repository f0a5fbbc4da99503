// The addon's AEAD kernel (DESIGN.md: a compute function only where a
// benchmark shows it wins; bench/aead.ts measures it against node:crypto):
// WireGuard transport messages sealed and opened with ChaCha20-Poly1305
// (RFC 8439) by the OpenSSL that Node.js itself is built with.
//
// Two ways to the same cipher, chosen once per process:
//  - the primitives: Node's own binary exports OpenSSL's ChaCha20_ctr32
//    and Poly1305_* (the very functions its EVP cipher runs on). Where
//    they are found (dlsym), a message costs the cipher alone. Through EVP
//    seal + open of 1,408 bytes took 1.27x as long, the difference being
//    its per-message set-up (provider dispatch, OSSL_PARAM tag plumbing,
//    IV copies): bench/aead.ts prints both.
//  - EVP, where the primitives are not exported (a Node linked to a
//    system libcrypto, whose symbol map hides them).
// Both are checked against node:crypto byte for byte (src/native/aead.test.ts).
//
// A TransportKey holds one session key, so a message costs a nonce set-up
// and the cipher, not a key schedule or an allocation.
// The message layout is WireGuard's (src/wireguard/messages.ts):
//   [type 4, 0, 0, 0] [receiver index, LE] [counter, 64-bit LE]
//   [packet, zero-padded] [16-byte tag]
// The 12-byte nonce is 4 zero bytes and the counter as it lies in the
// header; there is no additional data.
#include <dlfcn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include <string>

#include "aead.h"
#include "errors.h"

namespace tdn {
namespace {

constexpr size_t kHeader = 16;
constexpr size_t kTag = 16;
constexpr size_t kKey = 32;
constexpr uint8_t kZeros[16] = {0};
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "key and counter words are loaded as they lie in memory");

// OpenSSL's primitives as its internal headers declare them
// (crypto/chacha.h, crypto/poly1305.h); POLY1305 is opaque here. counter[0]
// is ChaCha's block counter, counter[1..3] the nonce's three words.
using ChaChaFn = void (*)(unsigned char* out, const unsigned char* in, size_t len, const unsigned int key[8], const unsigned int counter[4]);
using PolySizeFn = size_t (*)();
using PolyInitFn = void (*)(void* ctx, const unsigned char key[32]);
using PolyUpdateFn = void (*)(void* ctx, const unsigned char* in, size_t len);
using PolyFinalFn = void (*)(void* ctx, unsigned char mac[16]);

constexpr size_t kPolyCtxMax = 512;

struct Primitives {
  ChaChaFn chacha = nullptr;
  PolyInitFn polyInit = nullptr;
  PolyUpdateFn polyUpdate = nullptr;
  PolyFinalFn polyFinal = nullptr;
  bool found = false;
};

const Primitives& FindPrimitives() {
  static const Primitives found = [] {
    Primitives p;
    p.chacha = reinterpret_cast<ChaChaFn>(dlsym(RTLD_DEFAULT, "ChaCha20_ctr32"));
    auto size = reinterpret_cast<PolySizeFn>(dlsym(RTLD_DEFAULT, "Poly1305_ctx_size"));
    p.polyInit = reinterpret_cast<PolyInitFn>(dlsym(RTLD_DEFAULT, "Poly1305_Init"));
    p.polyUpdate = reinterpret_cast<PolyUpdateFn>(dlsym(RTLD_DEFAULT, "Poly1305_Update"));
    p.polyFinal = reinterpret_cast<PolyFinalFn>(dlsym(RTLD_DEFAULT, "Poly1305_Final"));
    p.found = p.chacha && size && p.polyInit && p.polyUpdate && p.polyFinal && size() <= kPolyCtxMax;
    return p;
  }();
  return found;
}

// One Poly1305 state per thread, reused by every key: Poly1305_Final
// cleanses it, so no key material stays behind between messages.
alignas(64) thread_local uint8_t polyCtx[kPolyCtxMax];

class TransportKey : public Napi::ObjectWrap<TransportKey> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "TransportKey", {InstanceMethod("sealBatch", &TransportKey::SealBatch), InstanceMethod("open", &TransportKey::Open),
                                             InstanceMethod("openBatch", &TransportKey::OpenBatch), InstanceMethod("destroy", &TransportKey::Destroy),
                                             InstanceAccessor("path", &TransportKey::Path, nullptr)});
  }

  // new TransportKey(key: 32 bytes, way?: 'evp' | 'unjoined'): 'evp' takes
  // the EVP way even where the primitives are found; 'unjoined' the
  // primitives without the one-call seal and open (SealJoined): tests and
  // bench/aead.ts, to check and measure every way on one machine.
  explicit TransportKey(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TransportKey>(info) {
    Napi::Env env = info.Env();
    uint8_t* key;
    size_t keyLen;
    if (!ArgBytes(info, 0, &key, &keyLen)) return;
    if (keyLen != kKey) {
      ThrowArg(env, "TransportKey(key of 32 bytes)");
      return;
    }
    const std::string way = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
    if (!way.empty() && way != "evp" && way != "unjoined") {
      ThrowArg(env, "TransportKey(key, way): way is 'evp' or 'unjoined'");
      return;
    }
    joined_ = way.empty();
    if (way != "evp" && FindPrimitives().found) {
      prim_ = &FindPrimitives();
      memcpy(key_, key, kKey);
      return;
    }
    enc_ = EVP_CIPHER_CTX_new();
    dec_ = EVP_CIPHER_CTX_new();
    if (!enc_ || !dec_ || EVP_EncryptInit_ex(enc_, EVP_chacha20_poly1305(), nullptr, key, nullptr) != 1 ||
        EVP_DecryptInit_ex(dec_, EVP_chacha20_poly1305(), nullptr, key, nullptr) != 1)
      ThrowArg(env, "TransportKey: OpenSSL refused the cipher or key");
  }

  ~TransportKey() override { Wipe(); }

 private:
  // Cleanses the key (and the EVP contexts that hold its schedule) now,
  // not when the garbage collector gets to the object: a session's keys
  // live no longer than the session. Idempotent.
  void Wipe() {
    OPENSSL_cleanse(key_, sizeof key_);
    EVP_CIPHER_CTX_free(enc_);
    EVP_CIPHER_CTX_free(dec_);
    enc_ = dec_ = nullptr;
    prim_ = nullptr;
    destroyed_ = true;
  }

  // destroy(): the key is wiped; every later seal or open throws.
  Napi::Value Destroy(const Napi::CallbackInfo& info) {
    Wipe();
    return info.Env().Undefined();
  }

  // Whether the key was destroyed (then it throws: a use after destroy is a caller's bug, never a silent all-zero key).
  bool Destroyed(Napi::Env env, const char* what) {
    if (destroyed_) ThrowArg(env, what);
    return destroyed_;
  }

  Napi::Value Path(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), prim_ ? "primitives" : "evp"); }

  static void Nonce(const uint8_t* header, uint8_t* nonce) {
    memset(nonce, 0, 4);
    memcpy(nonce + 4, header + 8, 8);
  }

  // ChaCha20's block counter 0 and the message's nonce (4 zero bytes, then
  // the 64-bit counter from its header) as OpenSSL's four counter words.
  static void Counter(const uint8_t* header, unsigned int ctr[4]) {
    ctr[0] = 0;
    ctr[1] = 0;
    memcpy(&ctr[2], header + 8, 8);
  }

  // Poly1305's one-time key: the first 32 bytes of block 0 (RFC 8439 2.6).
  void PolyBegin(unsigned int ctr[4]) const {
    uint8_t block0[64] = {0};
    ctr[0] = 0;
    prim_->chacha(block0, block0, sizeof block0, key_, ctr);
    prim_->polyInit(polyCtx, block0);
    OPENSSL_cleanse(block0, sizeof block0);
  }

  // Poly1305's one-time key when block 0 ran over bytes that were not
  // zeros (the one-call ways): ChaCha20 XORed them in, so XOR them out.
  void PolyBeginFromBlock0(const uint8_t* block0Out, const uint8_t* block0In) const {
    uint8_t polyKey[32];
    for (size_t b = 0; b < sizeof polyKey; b++) polyKey[b] = block0Out[b] ^ block0In[b];
    prim_->polyInit(polyCtx, polyKey);
    OPENSSL_cleanse(polyKey, sizeof polyKey);
  }

  // The tag over `ct` bytes of ciphertext already fed in: zero padding to
  // 16, then the lengths of the (empty) additional data and the ciphertext.
  void PolyEnd(size_t ct, uint8_t tag[kTag]) const {
    if (ct % 16) prim_->polyUpdate(polyCtx, kZeros, 16 - ct % 16);
    uint8_t lengths[16] = {0};
    for (int b = 0; b < 8; b++) lengths[8 + b] = static_cast<uint8_t>(static_cast<uint64_t>(ct) >> (8 * b));
    prim_->polyUpdate(polyCtx, lengths, sizeof lengths);
    prim_->polyFinal(polyCtx, tag);
  }

  // Where a message and its packet lie in their buffers: how many bytes
  // of the message's buffer come before it, and of the packet's buffer
  // before and after it.
  struct Room {
    uint64_t beforeMessage, beforePacket, afterPacket;
  };

  // Seals the message at `m` (header written): the `len` bytes at `from`
  // and `pad` zero bytes are encrypted into its payload; the tag follows.
  bool SealOne(uint8_t* m, const uint8_t* from, uint32_t len, uint32_t pad, const Room& room) {
    if (!prim_) return SealEvp(m, from, len, pad);
    if (joined_ && CanSealJoined(m, from, len, pad, room)) return SealJoined(m, from, len, pad);
    return SealPrimitives(m, from, len, pad);
  }

  // SealJoined runs block 0 (Poly1305's key) and the whole padded payload
  // through ChaCha20 in one call, where SealPrimitives needs three (block
  // 0, the whole blocks, the tail through a buffer): in a profile of a
  // TCP run the two short calls cost the sending daemon as much as half
  // the long one. The keystream runs from 64 bytes before the payload to
  // the tag: those 64 bytes of the message's buffer are saved and put
  // back, and since ChaCha20 only XORs, what the bytes around the packet
  // added to the output is XORed out again (block 0 gives the key, the
  // padding its zeros). So it needs 64 readable bytes before the packet,
  // `pad` after it, 48 before the message, and the two stretches either
  // the same bytes (in place) or apart.
  static constexpr size_t kBlock = 64;

  static bool CanSealJoined(const uint8_t* m, const uint8_t* from, uint32_t len, uint32_t pad, const Room& room) {
    if (room.beforePacket < kBlock || room.afterPacket < pad || room.beforeMessage < kBlock - kHeader) return false;
    const uint8_t* in = from - kBlock;
    const uint8_t* out = m + kHeader - kBlock;
    const size_t span = kBlock + len + pad;
    return in == out || in + span <= out || out + span <= in;
  }

  bool SealJoined(uint8_t* m, const uint8_t* from, uint32_t len, uint32_t pad) {
    const uint8_t* in = from - kBlock;
    uint8_t* out = m + kHeader - kBlock;
    uint8_t savedOut[kBlock], savedIn[kBlock], savedPad[16];
    memcpy(savedOut, out, kBlock);
    memcpy(savedIn, in, kBlock);
    memcpy(savedPad, from + len, pad);
    unsigned int ctr[4];
    Counter(m, ctr);
    const size_t ct = static_cast<size_t>(len) + pad;
    prim_->chacha(out, in, kBlock + ct, key_, ctr);
    PolyBeginFromBlock0(out, savedIn);
    memcpy(out, savedOut, kBlock);
    for (size_t b = 0; b < pad; b++) m[kHeader + len + b] ^= savedPad[b];
    OPENSSL_cleanse(savedIn, sizeof savedIn);
    OPENSSL_cleanse(savedPad, sizeof savedPad);
    prim_->polyUpdate(polyCtx, m + kHeader, ct);
    PolyEnd(ct, m + kHeader + ct);
    return true;
  }

  bool SealPrimitives(uint8_t* m, const uint8_t* from, uint32_t len, uint32_t pad) {
    unsigned int ctr[4];
    Counter(m, ctr);
    PolyBegin(ctr);
    uint8_t* out = m + kHeader;
    // Whole blocks straight from the packet; the last partial block and the
    // padding through a small buffer, so the keystream runs on unbroken.
    const size_t whole = len & ~static_cast<size_t>(63);
    ctr[0] = 1;
    if (whole) prim_->chacha(out, from, whole, key_, ctr);
    const size_t rest = len - whole + pad;
    if (rest) {
      uint8_t tail[64 + 16];
      memcpy(tail, from + whole, len - whole);
      memset(tail + (len - whole), 0, pad);
      ctr[0] = 1 + static_cast<unsigned int>(whole / 64);
      prim_->chacha(out + whole, tail, rest, key_, ctr);
      OPENSSL_cleanse(tail, sizeof tail);
    }
    const size_t ct = static_cast<size_t>(len) + pad;
    prim_->polyUpdate(polyCtx, out, ct);
    PolyEnd(ct, out + ct);
    return true;
  }

  bool SealEvp(uint8_t* m, const uint8_t* from, uint32_t len, uint32_t pad) {
    uint8_t nonce[12];
    Nonce(m, nonce);
    uint8_t* payload = m + kHeader;
    int outl = 0;
    if (EVP_EncryptInit_ex(enc_, nullptr, nullptr, nullptr, nonce) != 1) return false;
    if (len > 0 && EVP_EncryptUpdate(enc_, payload, &outl, from, static_cast<int>(len)) != 1) return false;
    if (pad > 0 && EVP_EncryptUpdate(enc_, payload + len, &outl, kZeros, static_cast<int>(pad)) != 1) return false;
    return EVP_EncryptFinal_ex(enc_, payload + len + pad, &outl) == 1 &&
           EVP_CIPHER_CTX_ctrl(enc_, EVP_CTRL_AEAD_GET_TAG, kTag, payload + len + pad) == 1;
  }

  // sealBatch(buf, offsets, lengths, first, count, receiverIndex, counter,
  //           src, srcOffsets, srcLengths, srcFirst): messages i in
  // [first, first+count) are buf[offsets[i], offsets[i]+lengths[i]),
  // lengths counting header, padded packet and tag. Each gets the
  // transport header (type 4, receiverIndex, counter + i - first) and the
  // packet src[srcOffsets[j], +srcLengths[j]) (j = srcFirst + i - first),
  // encrypted straight into it and zero-padded to lengths[i] - 32: no copy
  // first. A packet and its message may be the same bytes or apart, never
  // partly overlapping. One call per run of messages to one peer.
  Napi::Value SealBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (Destroyed(env, "sealBatch: the key was destroyed")) return env.Undefined();
    uint8_t *buf, *src;
    size_t size, nOff, nLen, srcSize, nSrcOff, nSrcLen;
    uint32_t *offsets, *lengths, *srcOffsets, *srcLengths;
    uint32_t first, count, receiver, srcFirst;
    if (!ArgBytes(info, 0, &buf, &size) || !ArgU32Array(info, 1, &offsets, &nOff) || !ArgU32Array(info, 2, &lengths, &nLen) ||
        !ArgU32(info, 3, &first) || !ArgU32(info, 4, &count) || !ArgU32(info, 5, &receiver) || !ArgBytes(info, 7, &src, &srcSize) ||
        !ArgU32Array(info, 8, &srcOffsets, &nSrcOff) || !ArgU32Array(info, 9, &srcLengths, &nSrcLen) || !ArgU32(info, 10, &srcFirst))
      return env.Undefined();
    if (!info[6].IsNumber()) {
      ThrowArg(env, "sealBatch: counter must be a number");
      return env.Undefined();
    }
    // The counter is a nonce: only an exact integer in [0, 2^53) names one
    // (NaN, negatives, fractions and 2^64 would be cast, undefined behaviour),
    // and the whole run must stay below 2^53 (the caller rekeys long before).
    const double c = info[6].As<Napi::Number>().DoubleValue();
    if (!(c >= 0) || c > 9007199254740992.0 - count || c != static_cast<double>(static_cast<uint64_t>(c))) {
      ThrowArg(env, "sealBatch: counter must be an integer in [0, 2^53 - count]");
      return env.Undefined();
    }
    const uint64_t counter0 = static_cast<uint64_t>(c);
    if (static_cast<uint64_t>(first) + count > nOff || static_cast<uint64_t>(first) + count > nLen ||
        static_cast<uint64_t>(srcFirst) + count > nSrcOff || static_cast<uint64_t>(srcFirst) + count > nSrcLen) {
      ThrowArg(env, "sealBatch: first + count exceeds the arrays");
      return env.Undefined();
    }
    // Every message is checked before any is sealed: a refusal seals none,
    // so no counter of the run is ever used for a message the caller did
    // not get (the caller also reserves the run's counters before the call).
    for (uint32_t i = first; i < first + count; i++) {
      const uint64_t off = offsets[i], total = lengths[i];
      const uint32_t j = srcFirst + (i - first);
      const uint64_t at = srcOffsets[j], len = srcLengths[j];
      if (total < kHeader + kTag + len || off + total > size || at + len > srcSize || total > kMaxMessage) {
        ThrowArg(env, "sealBatch: a message or packet does not fit its buffer");
        return env.Undefined();
      }
      if (total - kHeader - kTag - len >= sizeof kZeros) {
        ThrowArg(env, "sealBatch: padding is less than 16 bytes");
        return env.Undefined();
      }
      const uint8_t* m = buf + off;
      const uint8_t* from = src + at;
      if (len > 0 && from != m + kHeader && from < m + total && m < from + len) {
        ThrowArg(env, "sealBatch: a packet partly overlaps its message");
        return env.Undefined();
      }
    }
    uint64_t counter = counter0;
    for (uint32_t i = first; i < first + count; i++, counter++) {
      const uint64_t off = offsets[i], total = lengths[i];
      const uint32_t j = srcFirst + (i - first);
      const uint64_t at = srcOffsets[j], len = srcLengths[j];
      const uint64_t pad = total - kHeader - kTag - len;
      uint8_t* m = buf + off;
      const uint8_t* from = src + at;
      m[0] = 4;
      m[1] = m[2] = m[3] = 0;
      for (int b = 0; b < 4; b++) m[4 + b] = static_cast<uint8_t>(receiver >> (8 * b));
      for (int b = 0; b < 8; b++) m[8 + b] = static_cast<uint8_t>(counter >> (8 * b));
      const Room room = {off, at, srcSize - at - len};
      if (!SealOne(m, from, static_cast<uint32_t>(len), static_cast<uint32_t>(pad), room)) {
        ThrowArg(env, "sealBatch: OpenSSL failed");
        return env.Undefined();
      }
    }
    return env.Undefined();
  }

  // open(buf, off, messageLength) -> padded packet length (the packet is
  // then at off+16, decrypted in place), or -1 when the tag does not verify
  // (nothing is decrypted then on the primitives' way; on EVP's the payload
  // is garbage: either way it must be dropped).
  Napi::Value Open(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (Destroyed(env, "open: the key was destroyed")) return env.Undefined();
    uint8_t* buf;
    size_t size;
    uint32_t off, total;
    if (!ArgBytes(info, 0, &buf, &size) || !ArgU32(info, 1, &off) || !ArgU32(info, 2, &total)) return env.Undefined();
    const uint32_t len = OpenAt(buf, size, off, total);
    return Napi::Number::New(env, len == kUnauthentic ? -1 : static_cast<double>(len));
  }

  // The message buf[off, off+total) opened in place: its padded packet's
  // length, or kUnauthentic (also for a size no message can have).
  uint32_t OpenAt(uint8_t* buf, size_t size, uint64_t off, uint64_t total) {
    if (total < kHeader + kTag || total > kMaxMessage || off + total > size) return kUnauthentic;
    const uint32_t len = static_cast<uint32_t>(total - kHeader - kTag);
    uint8_t* m = buf + off;
    bool ok;
    if (!prim_) ok = OpenEvp(m, len);
    else if (joined_ && off >= kBlock - kHeader && len <= kJoinedOpenMax) ok = OpenJoined(m, len);
    else ok = OpenPrimitives(m, len);
    return ok ? len : kUnauthentic;
  }

  // openBatch(buf, offsets, sizes, first, count, results): opens messages i
  // in [first, first+count), each buf[offsets[i], +sizes[i]), in place, as
  // open() does; results[i] gets the padded packet's length, or kUnauthentic
  // (0xffffffff). One call per run of messages to one session: a call into
  // the addon per message showed in the receive profile.
  Napi::Value OpenBatch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (Destroyed(env, "openBatch: the key was destroyed")) return env.Undefined();
    uint8_t* buf;
    size_t size, nOff, nSizes, nResults;
    uint32_t *offsets, *sizes, *results;
    uint32_t first, count;
    if (!ArgBytes(info, 0, &buf, &size) || !ArgU32Array(info, 1, &offsets, &nOff) || !ArgU32Array(info, 2, &sizes, &nSizes) ||
        !ArgU32(info, 3, &first) || !ArgU32(info, 4, &count) || !ArgU32Array(info, 5, &results, &nResults))
      return env.Undefined();
    const uint64_t end = static_cast<uint64_t>(first) + count;
    if (end > nOff || end > nSizes || end > nResults) {
      ThrowArg(env, "openBatch: first + count exceeds the arrays");
      return env.Undefined();
    }
    for (uint32_t i = first; i < end; i++) results[i] = OpenAt(buf, size, offsets[i], sizes[i]);
    return env.Undefined();
  }

  static constexpr uint32_t kUnauthentic = 0xffffffff;

  // Checks the tag first and decrypts only a message that authenticates.
  bool OpenPrimitives(uint8_t* m, uint32_t len) {
    unsigned int ctr[4];
    Counter(m, ctr);
    PolyBegin(ctr);
    uint8_t* payload = m + kHeader;
    prim_->polyUpdate(polyCtx, payload, len);
    uint8_t tag[kTag];
    PolyEnd(len, tag);
    if (CRYPTO_memcmp(tag, payload + len, kTag) != 0) return false;
    ctr[0] = 1;
    prim_->chacha(payload, payload, len, key_, ctr);
    return true;
  }

  // OpenJoined is OpenPrimitives in one ChaCha20 call instead of two, as
  // SealJoined is: block 0 and the payload run from 64 bytes before the
  // payload into a scratch buffer (the message stays as it came, so the
  // tag is still checked before anything in it changes), Poly1305's key is
  // block 0's output XOR the 64 bytes it ran over, and only an authentic
  // payload is copied back. A copy of the payload costs less than the
  // short call. Needs 48 bytes before the message.
  static constexpr uint32_t kJoinedOpenMax = 65536;

  bool OpenJoined(uint8_t* m, uint32_t len) {
    alignas(64) thread_local uint8_t scratch[kBlock + kJoinedOpenMax];
    const uint8_t* in = m + kHeader - kBlock;
    uint8_t* payload = m + kHeader;
    unsigned int ctr[4];
    Counter(m, ctr);
    prim_->chacha(scratch, in, kBlock + len, key_, ctr);
    PolyBeginFromBlock0(scratch, in);
    OPENSSL_cleanse(scratch, kBlock);
    prim_->polyUpdate(polyCtx, payload, len);
    uint8_t tag[kTag];
    PolyEnd(len, tag);
    if (CRYPTO_memcmp(tag, payload + len, kTag) != 0) return false;
    memcpy(payload, scratch + kBlock, len);
    return true;
  }

  bool OpenEvp(uint8_t* m, uint32_t len) {
    uint8_t nonce[12];
    Nonce(m, nonce);
    uint8_t* payload = m + kHeader;
    int outl = 0;
    return EVP_DecryptInit_ex(dec_, nullptr, nullptr, nullptr, nonce) == 1 &&
           (len == 0 || EVP_DecryptUpdate(dec_, payload, &outl, payload, static_cast<int>(len)) == 1) &&
           EVP_CIPHER_CTX_ctrl(dec_, EVP_CTRL_AEAD_SET_TAG, kTag, payload + len) == 1 &&
           EVP_DecryptFinal_ex(dec_, payload + len, &outl) == 1;
  }

  // Far above any datagram; keeps ChaCha's 32-bit block counter from wrapping.
  static constexpr uint64_t kMaxMessage = 1u << 20;

  const Primitives* prim_ = nullptr;
  bool joined_ = true;
  unsigned int key_[8] = {0};
  EVP_CIPHER_CTX* enc_ = nullptr;
  EVP_CIPHER_CTX* dec_ = nullptr;
  bool destroyed_ = false;
};

}  // namespace

void InitAead(Napi::Env env, Napi::Object exports) {
  exports.Set("TransportKey", TransportKey::Define(env));
}

}  // namespace tdn
