// SPDX-License-Identifier: Apache-2.0
#pragma once
// Relay buffers, taken only while data is in flight and returned at once: an idle connection
// holds none. One pool per worker (no locks); it keeps a bounded number of free buffers.
#include <cstddef>
#include <memory>
#include <vector>

namespace ward::proxy {

class BufferPool {
public:
    class Buffer {
    public:
        Buffer() = default;
        Buffer(BufferPool* pool, std::unique_ptr<char[]> data, std::size_t size)
            : pool_(pool), data_(std::move(data)), size_(size) {}
        Buffer(Buffer&&) = default;
        Buffer& operator=(Buffer&& o) noexcept {
            release();
            pool_ = o.pool_;
            data_ = std::move(o.data_);
            size_ = o.size_;
            return *this;
        }
        ~Buffer() { release(); }
        char* data() { return data_.get(); }
        std::size_t size() const { return size_; }
        explicit operator bool() const { return data_ != nullptr; }

    private:
        void release() {
            if (pool_ && data_) pool_->give(std::move(data_), size_);
        }
        BufferPool* pool_ = nullptr;
        std::unique_ptr<char[]> data_;
        std::size_t size_ = 0;
    };

    explicit BufferPool(std::size_t max_free = 64) : max_free_(max_free) {}

    Buffer take(std::size_t size) {
        for (auto it = free_.begin(); it != free_.end(); ++it) {
            if (it->size == size) {
                auto data = std::move(it->data);
                free_.erase(it);
                return Buffer(this, std::move(data), size);
            }
        }
        return Buffer(this, std::unique_ptr<char[]>(new char[size]), size);
    }

    std::size_t free_count() const { return free_.size(); }

private:
    struct Free {
        std::unique_ptr<char[]> data;
        std::size_t size;
    };
    void give(std::unique_ptr<char[]> data, std::size_t size) {
        if (free_.size() < max_free_) free_.push_back({std::move(data), size});
    }
    std::size_t max_free_;
    std::vector<Free> free_;
};

}  // namespace ward::proxy
