// Double binary tree: two balanced binary trees over the members, each reducing then
// broadcasting half of the vector in pipelined chunks. The second tree mirrors (even P) or
// shifts (odd P) the first, so most members that are inner nodes in one tree are leaves in the
// other: each member sends and receives about the whole vector once per phase, with
// 2*log2(P) latencies instead of the ring's 2*(P-1).
#include <array>

#include "src/algorithms/algorithms.h"
#include "src/algorithms/chunking.h"
#include "src/algorithms/context.h"

namespace railcc::algo {
namespace {

struct TreeNode {
  int parent = -1;  // member index, -1 at the root
  std::array<int, 2> child{-1, -1};
};

// In-order balanced tree over positions [lo, hi): the middle is the root of the range.
int build(std::vector<TreeNode>& nodes, int lo, int hi, int parent) {
  if (lo >= hi) return -1;
  const int mid = lo + (hi - lo) / 2;
  nodes[mid].parent = parent;
  nodes[mid].child = {build(nodes, lo, mid, mid), build(nodes, mid + 1, hi, mid)};
  return mid;
}

// Member at position `pos` of tree t, and back.
int member(int t, int pos, int p) {
  if (t == 0) return pos;
  return p % 2 == 0 ? p - 1 - pos : (pos + 1) % p;
}
int position(int t, int m, int p) {
  if (t == 0) return m;
  return p % 2 == 0 ? p - 1 - m : (m - 1 + p) % p;
}

}  // namespace

void tree_all_reduce(Schedule& s, const Group& g, const Shape& sh, Ref src, Ref dst,
                     std::size_t count) {
  const int p = g.size();
  const std::size_t es = sh.elem_size;
  if (p == 1) {
    s.copy(dst, src, count * es);
    return;
  }
  std::vector<TreeNode> shape(p);
  build(shape, 0, p, -1);
  struct Mine {
    int parent = -1;
    std::vector<int> children;  // global ranks
    std::size_t first = 0;      // element offset of this tree's half
    Chunks chunks{0, 1, 1};
    Ref acc, tmp;  // partial sums on inner nodes; the second child's data
  };
  std::array<Mine, 2> trees;
  for (int t = 0; t < 2; ++t) {
    Mine& m = trees[t];
    const TreeNode& n = shape[position(t, g.me, p)];
    if (n.parent >= 0) m.parent = g.at(member(t, n.parent, p));
    for (int c : n.child) {
      if (c >= 0) m.children.push_back(g.at(member(t, c, p)));
    }
    m.first = block_offset(count, 2, t);
    m.chunks = Chunks(block_offset(count, 2, t + 1) - m.first, es, sh.chunk_bytes);
    const std::size_t half = m.chunks.elems * es;
    // The root reduces straight into dst; inner nodes keep partial sums aside, so the result
    // coming back down can land in dst without waiting for the partial sums to leave.
    if (!m.children.empty()) m.acc = m.parent < 0 ? dst.at(m.first * es) : s.scratch(half);
    if (m.children.size() == 2) m.tmp = s.scratch(half);
  }
  const std::size_t n = std::max(trees[0].chunks.n, trees[1].chunks.n);
  // Reduce up, chunk by chunk, both trees interleaved. top[t][c] is the step that finishes the
  // reduction of chunk c (or none for a leaf, whose chunk is its input).
  std::array<std::vector<uint32_t>, 2> top;
  for (std::size_t c = 0; c < n; ++c) {
    for (int t = 0; t < 2; ++t) {
      Mine& m = trees[t];
      if (c >= m.chunks.n) continue;
      const std::size_t at = m.chunks.begin(c) * es, len = m.chunks.length(c) * es;
      const Ref in = src.at(m.first * es + at);
      if (m.children.empty()) {
        if (m.parent >= 0) s.send(m.parent, in, len);
        continue;
      }
      const uint32_t first = s.recv_reduce(m.children[0], m.acc.at(at), in, len);
      uint32_t last = first;
      if (m.children.size() == 2) {
        const uint32_t got = s.recv(m.children[1], m.tmp.at(at), len);
        last = s.reduce(m.acc.at(at), m.tmp.at(at), len, {first, got + 1});
      }
      top[t].push_back(last);
      if (m.parent >= 0) s.send(m.parent, m.acc.at(at), len, Deps::on(last));
    }
  }
  // Broadcast down: the root forwards its reduced chunks, the others what their parent sent.
  for (std::size_t c = 0; c < n; ++c) {
    for (int t = 0; t < 2; ++t) {
      Mine& m = trees[t];
      if (c >= m.chunks.n) continue;
      const std::size_t len = m.chunks.length(c) * es;
      const Ref out = dst.at((m.first + m.chunks.begin(c)) * es);
      const Deps ready = m.parent >= 0 ? Deps::on(s.recv(m.parent, out, len)) : Deps::on(top[t][c]);
      for (int child : m.children) s.send(child, out, len, ready);
    }
  }
}

}  // namespace railcc::algo
