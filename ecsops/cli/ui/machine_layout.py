"""A machine's graph in ranks, top to bottom: which rank each state goes in, their order, x positions and ports.

Sugiyama's method, simplified. Back edges (found by a depth-first walk from the initial state) are left out of the
ranking and laid out reversed, so they are drawn upward beside their forward twin. Ranks are longest paths; an edge
spanning ranks passes through one dummy node per rank it crosses, and the edges into one state share their dummies
(one trunk into `failed`, not five lines). Barycenter sweeps and neighbour swaps order each rank; x positions are
pulled toward their neighbours and kept apart by an isotonic fit. machine_routes turns this into y and paths.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from itertools import pairwise

NODE_GAP = 72.0
DUMMY_WIDTH = 4.0
DUMMY_GAP = 18.0
_SWEEPS = 8

Pair = tuple[str, str]
Link = tuple[int, int, bool]  # upper node, lower node, drawn upward (a back edge)


def layered(states: Sequence[str], initial: str, edges: Sequence[Pair], *, widths: Mapping[str, float],
            last: Collection[str] = ()) -> LayeredGraph:
    """States (each `widths[state]` wide) and edges (distinct pairs, declaration order) ranked, ordered and placed
    along x; the states in `last` without outgoing edges share the bottom rank: the ways a machine can end."""
    back = _back_edges(states, initial, edges)
    forward = [pair for pair in edges if pair not in back and pair[0] != pair[1]]
    graph = LayeredGraph(states, _ranks(states, forward, last), widths)
    for source, dest in forward:
        graph.add_chain((source, dest), source, dest, upward=False)
    for source, dest in edges:
        if (source, dest) in back:
            graph.add_chain((source, dest), dest, source, upward=True)
    graph.loops = [pair for pair in edges if pair[0] == pair[1]]
    graph.order()
    graph.place()
    return graph


def _back_edges(states: Sequence[str], initial: str, edges: Sequence[Pair]) -> set[Pair]:
    """Edges to a state on the depth-first path from the initial state (`turn_came`, `hook_acted`)."""
    outgoing: dict[str, list[str]] = {state: [] for state in states}
    for source, dest in edges:
        if source != dest:
            outgoing[source].append(dest)
    colour = dict.fromkeys(states, 0)  # 0 unseen, 1 on the path, 2 done
    back: set[Pair] = set()
    for root in [initial, *states]:
        if colour[root]:
            continue
        colour[root] = 1
        stack = [(root, iter(outgoing[root]))]
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                colour[node] = 2
                stack.pop()
            elif colour[child] == 1:
                back.add((node, child))
            elif colour[child] == 0:
                colour[child] = 1
                stack.append((child, iter(outgoing[child])))
    return back


def _ranks(states: Sequence[str], forward: Sequence[Pair], last: Collection[str]) -> dict[str, int]:
    """Longest path from the sources over the forward edges, in topological order (Kahn, declaration order)."""
    incoming = dict.fromkeys(states, 0)
    for _, dest in forward:
        incoming[dest] += 1
    rank = dict.fromkeys(states, 0)
    ready = [state for state in states if incoming[state] == 0]
    while ready:
        state = ready.pop(0)
        for source, dest in forward:
            if source == state:
                rank[dest] = max(rank[dest], rank[state] + 1)
                incoming[dest] -= 1
                if incoming[dest] == 0:
                    ready.append(dest)
    bottom = max(rank.values(), default=0)
    leaves = {state for state in last if not any(source == state for source, _ in forward)}
    return {state: bottom if state in leaves else value for state, value in rank.items()}


class LayeredGraph:
    """The ranked graph with dummy nodes: ids 0..n-1 are the states, the rest dummies. `chains[pair]` is the nodes
    an edge passes, top to bottom, and whether it is drawn upward; `layers` the nodes of each rank in order."""

    def __init__(self, states: Sequence[str], rank: Mapping[str, int], widths: Mapping[str, float]) -> None:
        self.states = list(states)
        self.index = {state: i for i, state in enumerate(states)}
        self.rank = [rank[state] for state in states]
        self.width = [widths[state] for state in states]
        self.ups: list[list[Link]] = [[] for _ in states]
        self.downs: list[list[Link]] = [[] for _ in states]
        self.chains: dict[Pair, tuple[list[int], bool]] = {}
        self.trunks: dict[tuple[int, int], int] = {}  # (dest, rank) -> the dummy the edges into dest share there
        self.loops: list[Pair] = []
        self.layers: list[list[int]] = []
        self.x: list[float] = []

    def add_chain(self, pair: Pair, top: str, bottom: str, *, upward: bool) -> None:
        chain = [self.index[top]]
        for level in range(self.rank[chain[0]] + 1, self.rank[self.index[bottom]]):
            key = (self.index[bottom], level)
            if upward or key not in self.trunks:
                self.rank.append(level)
                self.width.append(DUMMY_WIDTH)
                self.ups.append([])
                self.downs.append([])
                if not upward:
                    self.trunks[key] = len(self.rank) - 1
            chain.append(len(self.rank) - 1 if upward else self.trunks[key])
        chain.append(self.index[bottom])
        for upper, lower in pairwise(chain):
            link = (upper, lower, upward)
            if link not in self.downs[upper]:
                self.downs[upper].append(link)
                self.ups[lower].append(link)
        self.chains[pair] = (chain, upward)

    def order(self) -> None:
        """Barycenter sweeps, down then up, keeping the ordering with the fewest crossings (the first on a tie)."""
        self.layers = [[] for _ in range(max(self.rank, default=0) + 1)]
        for node, level in enumerate(self.rank):
            self.layers[level].append(node)
        best, fewest = [list(layer) for layer in self.layers], self._crossings()
        for sweep in range(_SWEEPS):
            downward = sweep % 2 == 0
            for level in range(1, len(self.layers)) if downward else range(len(self.layers) - 2, -1, -1):
                position = {node: i for i, node in enumerate(self.layers[level - 1 if downward else level + 1])}
                keys = {}
                for at, node in enumerate(self.layers[level]):
                    linked = [position[link[0]] for link in self.ups[node]] if downward else [
                        position[link[1]] for link in self.downs[node]]
                    keys[node] = (sum(linked) / len(linked) if linked else float(at), at)
                self.layers[level].sort(key=keys.__getitem__)
            self._transpose()
            crossings = self._crossings()
            if crossings < fewest:
                fewest, best = crossings, [list(layer) for layer in self.layers]
        self.layers = best

    def _transpose(self) -> None:
        """Swap neighbours in a rank while that removes crossings: what the barycenters leave on ties."""
        for _ in range(4):
            improved = False
            for level, layer in enumerate(self.layers):
                above = {node: i for i, node in enumerate(self.layers[level - 1])} if level else {}
                below = {node: i for i, node in enumerate(self.layers[level + 1])} if level + 1 < len(
                    self.layers) else {}
                for i in range(len(layer) - 1):
                    left, right = layer[i], layer[i + 1]
                    swapped = self._pair_crossings(right, left, above, below)
                    if swapped < self._pair_crossings(left, right, above, below):
                        layer[i], layer[i + 1] = right, left
                        improved = True
            if not improved:
                return

    def _pair_crossings(self, left: int, right: int, above: dict[int, int], below: dict[int, int]) -> int:
        """Crossings between left's links and right's when left is placed before right."""
        count = 0
        for position, links, end in ((above, self.ups, 0), (below, self.downs, 1)):
            rights = [position[link[end]] for link in links[right]]
            count += sum(1 for link in links[left] for b in rights if position[link[end]] > b)
        return count

    def _crossings(self) -> int:
        total = 0
        for upper, lower in pairwise(self.layers):
            below = {node: i for i, node in enumerate(lower)}
            links = [(i, below[link[1]]) for i, node in enumerate(upper) for link in self.downs[node]]
            total += sum(1 for a, b in links for c, d in links if a < c and b > d)
        return total

    def place(self) -> None:
        """x of each node: packed first, then pulled toward its neighbours' mean, rank by rank, several times."""
        self.x = [0.0] * len(self.rank)
        for layer in self.layers:
            self._fit(layer, [0.0] * len(layer))
        for sweep in range(_SWEEPS):
            downward, both = sweep % 2 == 0, sweep >= _SWEEPS - 2
            for level in range(len(self.layers)) if downward else range(len(self.layers) - 1, -1, -1):
                wanted = []
                for node in self.layers[level]:
                    linked = [link[0] for link in self.ups[node]] if downward or both else []
                    linked += [link[1] for link in self.downs[node]] if not downward or both else []
                    wanted.append(sum(self.x[n] for n in linked) / len(linked) if linked else self.x[node])
                self._fit(self.layers[level], wanted)

    def _fit(self, layer: list[int], wanted: list[float]) -> None:
        """The positions nearest `wanted` (least squares) that keep the layer's order and spacing. With offsets c_i
        packed from the left, x_i = B_i + c_i where B must not decrease along the layer: an isotonic regression of
        wanted_i - c_i, solved by pooling adjacent violators."""
        offsets, at = [], 0.0
        for i, node in enumerate(layer):
            if i:
                previous = layer[i - 1]
                dummies = previous >= len(self.states) and node >= len(self.states)
                at += self.width[previous] / 2 + (DUMMY_GAP if dummies else NODE_GAP) + self.width[node] / 2
            offsets.append(at)
        blocks: list[list[float]] = []  # [sum, count] of pooled wanted_i - c_i
        for want, offset in zip(wanted, offsets, strict=True):
            blocks.append([want - offset, 1.0])
            while len(blocks) > 1 and blocks[-2][0] / blocks[-2][1] > blocks[-1][0] / blocks[-1][1]:
                total, count = blocks.pop()
                blocks[-1][0] += total
                blocks[-1][1] += count
        i = 0
        for total, count in blocks:
            for _ in range(int(count)):
                self.x[layer[i]] = total / count + offsets[i]
                i += 1

    def ports(self) -> dict[tuple[int, Link], float]:
        """Where each link leaves its upper node's bottom and enters its lower node's top, spread along the side in
        the order of the far ends, so the lines leave a node without crossing."""
        ports: dict[tuple[int, Link], float] = {}
        for node in range(len(self.rank)):
            for links, far in ((self.downs[node], 1), (self.ups[node], 0)):
                ordered = sorted(links, key=lambda link: (self.x[link[far]], link[2], link[far]))
                step = min(14.0, (self.width[node] - 20) / (len(ordered) - 1)) if len(ordered) > 1 else 0.0
                for i, link in enumerate(ordered):
                    ports[(node, link)] = self.x[node] + (i - (len(ordered) - 1) / 2) * max(step, 0.0)
        return ports
