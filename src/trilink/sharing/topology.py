"""Who is linked to whom, and the next hop toward each nation.

The deployed topology is a hub (KOR <-> USA <-> JPN): data between Seoul and Tokyo is
relayed by the United States. A mesh (:meth:`Topology.mesh`) links every pair, so no
partner is a single point of failure. Routes are shortest paths, ties broken by nation code, so
every node computes the same routes from the same link list.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from trilink.errors import ConfigError

__all__ = ["Topology"]


@dataclass(frozen=True)
class Topology:
    """An undirected graph of links between nations' nodes."""

    nations: tuple[str, ...]
    links: frozenset[frozenset[str]]

    @classmethod
    def from_links(cls, nations: Iterable[str], links: Iterable[tuple[str, str]]) -> Topology:
        ns = tuple(sorted(set(nations)))
        edges: set[frozenset[str]] = set()
        for a, b in links:
            for n in (a, b):
                if n not in ns:
                    raise ConfigError(
                        f"link {a}-{b} names {n}, which is not a nation of the network",
                        field="links",
                        fix=f"add {n} to `nations` or remove the link",
                    )
            if a == b:
                raise ConfigError(
                    f"link {a}-{b} joins a node to itself", field="links", fix="remove it"
                )
            edges.add(frozenset((a, b)))
        return cls(ns, frozenset(edges))

    @classmethod
    def mesh(cls, nations: Iterable[str]) -> Topology:
        """Every pair of nations linked: no node relays for others, so none is a single
        point of failure."""
        ns = sorted(set(nations))
        return cls.from_links(ns, [(a, b) for i, a in enumerate(ns) for b in ns[i + 1 :]])

    def neighbours(self, nation: str) -> tuple[str, ...]:
        return tuple(sorted(n for e in self.links if nation in e for n in e if n != nation))

    def next_hop(self, src: str, dst: str) -> str | None:
        """The neighbour of ``src`` on the shortest path to ``dst`` (None if unreachable)."""
        routes: dict[tuple[str, str], str | None] = self.__dict__.setdefault("_routes", {})
        key = (src, dst)
        if key not in routes:
            routes[key] = self._route(src, dst)
        return routes[key]

    def _route(self, src: str, dst: str) -> str | None:
        if src == dst:
            return None
        first: dict[str, str] = {}
        seen = {src}
        queue: deque[str] = deque()
        for n in self.neighbours(src):
            first[n] = n
            seen.add(n)
            queue.append(n)
        while queue:
            cur = queue.popleft()
            if cur == dst:
                return first[cur]
            for n in self.neighbours(cur):
                if n not in seen:
                    seen.add(n)
                    first[n] = first[cur]
                    queue.append(n)
        return None
