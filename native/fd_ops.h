#pragma once
#include <napi.h>
#include <sys/socket.h>
namespace tdn {
void InitFdOps(Napi::Env env, Napi::Object exports);
// Batch-layout checks shared with inet6.cc: they throw a TypeError and
// return false when the JavaScript buffers cannot hold the batch.
bool CheckSlots(Napi::Env env, size_t buf_len, uint32_t slot, uint32_t headroom, uint32_t max, size_t sizes_len);
bool CheckSpans(Napi::Env env, size_t buf_len, const uint32_t* offsets, const uint32_t* lengths, uint32_t count);
// The segment size of a UDP_GRO control message in a received message, or 0 (one datagram).
uint32_t GroSegmentSize(msghdr* msg);
}
