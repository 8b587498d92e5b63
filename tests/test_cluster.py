"""An archive in shards on a real Dask cluster: a scheduler and three ``dask worker``
processes on 127.0.0.1, started here as subprocesses.

The corpus is indexed into 2 and 3 shards with ``newsearch index --cluster``, and
generated requests are compared with the corpus indexed whole: the same ids in the
same order, totals, facets and near-duplicates, scores within 1e-9.  Workers are
killed with SIGKILL during indexing (the run fails naming the shard; running it again
completes it, without duplicates) and during a loop of searches (the other shards'
results come back flagged as partial within the timeout; with ``--no-partial`` it is
an error; when the worker is back, full results return to the same client).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from newsearch import Config, NewsIndex
from newsearch.cluster import ClusterError

from generated_queries import comparable, generated_requests, scores_close

pytest.importorskip("distributed", reason="the cluster tests need Dask distributed (pip install -e '.[test]')")
pytestmark = [pytest.mark.usefixtures("corpus"), pytest.mark.slow]  # minutes: CI runs it with -m slow

DASK = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
TIMEOUT = 4.0  # [cluster] timeout of these tests: a lost shard is given up after this


class Cluster:
    """A scheduler and named workers, each a process of its own."""

    def __init__(self, folder: Path, tls: list[str] | None = None) -> None:
        self.folder = folder
        self.tls = tls or []  # Dask's --tls-ca-file, --tls-cert and --tls-key, for each process
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        log = (folder / "scheduler.log").open("wb")
        self.scheduler = subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
             *(["--protocol", "tls", *self.tls] if tls else [])],
            stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            found = re.search(r"Scheduler at:\s+((?:tcp|tls)://127\.0\.0\.1:\d+)", (folder / "scheduler.log").read_text(errors="replace"))
            if found:
                self.address = found.group(1)
                break
            assert time.monotonic() < deadline and self.scheduler.poll() is None, "the scheduler did not start"
            time.sleep(0.2)

    def start_worker(self, name: str) -> None:
        log = (self.folder / f"{name}.log").open("ab")
        self.workers[name] = subprocess.Popen(
            [
                sys.executable, "-m", "distributed.cli.dask_worker", self.address, "--name", name, "--host", "127.0.0.1",
                "--nthreads", "2", "--no-nanny", "--no-dashboard", "--local-directory", str(self.folder / name), *self.tls,
            ],
            stdout=log, stderr=subprocess.STDOUT,
        )

    def wait_for(self, names: set[str]) -> None:
        from distributed import Client, Security

        security = None
        if self.tls:
            ca, cert, key = self.tls[1::2]
            security = Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True)
        with Client(self.address, set_as_default=False, timeout=30, security=security) as client:
            deadline = time.monotonic() + 60
            while {str(w.get("name")) for w in client.scheduler_info(n_workers=-1)["workers"].values()} != names:
                assert time.monotonic() < deadline, "the workers did not join"
                time.sleep(0.2)

    def kill(self, name: str) -> None:
        process = self.workers.pop(name)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in [*self.workers.values(), self.scheduler]:
            process.send_signal(signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    found = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        for name in ("w0", "w1", "w2"):
            found.start_worker(name)
        found.wait_for({"w0", "w1", "w2"})
        yield found
    finally:
        found.stop()


def _newsearch(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsearch", *args], capture_output=True, text=True, timeout=timeout)


def _index_folder(tmp_path_factory: pytest.TempPathFactory, name: str, settings: str = "") -> Path:
    folder = tmp_path_factory.mktemp(name) / "index"
    folder.mkdir()
    (folder / "newsearch.toml").write_text(f"{settings}[cluster]\ntimeout = {TIMEOUT}\n", encoding="utf-8")
    return folder


def _articles(folder: Path) -> int:
    try:
        return len(NewsIndex.open(folder))
    except Exception:  # noqa: BLE001 - not there yet
        return 0


def _whole_again(ix: object, seconds: float) -> object:
    """The first search of 经济 that every shard answers, within ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        results = ix.search("经济", collapse=False)  # type: ignore[attr-defined]
        if results.shards is not None and not results.shards.partial:
            return results
        assert time.monotonic() < deadline, results.shards
        time.sleep(0.5)


def _same_answers(ix: object, corpus_index: NewsIndex, n: int, *, threads: int = 1) -> None:
    """``n`` generated requests answered by ``ix`` (from ``threads`` threads at once) as by one index."""
    requests = generated_requests(corpus_index, n)
    with ThreadPoolExecutor(threads) as pool:
        answers = list(pool.map(lambda request: comparable(ix.search(**request)), requests))  # type: ignore[attr-defined]
    differing = []
    for request, several in zip(requests, answers):
        one = comparable(corpus_index.search(**request))
        if {k: v for k, v in one.items() if k != "hits"} != {k: v for k, v in several.items() if k != "hits"} or not (
            [h[::2] for h in one["hits"]] == [h[::2] for h in several["hits"]] and scores_close(one, several)
        ):
            differing.append((request, one, several))
    assert not differing, differing[:2]
    assert sum(1 for r in requests if corpus_index.search(**r).hits) >= 100


@pytest.fixture(scope="module")
def three_shards(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory, corpus: Path) -> Path:
    folder = _index_folder(tmp_path_factory, "three")
    done = _newsearch("index", "--cluster", cluster.address, "--shards", "3", "--index", str(folder), str(corpus))
    assert done.returncode == 0, done.stderr
    return folder


def test_a_worker_lost_while_indexing_fails_the_run_and_a_second_run_completes_it(
    cluster: Cluster, tmp_path_factory: pytest.TempPathFactory, corpus: Path, corpus_index: NewsIndex
) -> None:
    folder = _index_folder(tmp_path_factory, "two", "[indexing]\nbatch_size = 20\n")  # a commit every 20 files
    run = subprocess.Popen(
        [sys.executable, "-m", "newsearch", "index", "--cluster", cluster.address, "--shards", "2", "--index", str(folder), str(corpus)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    manifest = folder / "cluster.json"
    deadline = time.monotonic() + 60
    while not (manifest.is_file() and _articles(folder / "shards" / "shard-1")):  # its first job committed
        assert time.monotonic() < deadline and run.poll() is None, run.communicate()
        time.sleep(0.1)
    owner = json.loads(manifest.read_text(encoding="utf-8"))["owners"][1]
    cluster.kill(owner)
    out, err = run.communicate(timeout=120)
    assert run.returncode != 0
    assert "shard 1" in err and owner in err and "Traceback" not in err, err
    cluster.start_worker(owner)
    cluster.wait_for({"w0", "w1", "w2"})
    again = _newsearch("index", "--cluster", cluster.address, "--index", str(folder), str(corpus))
    assert again.returncode == 0, again.stderr
    ix = NewsIndex.open(folder, cluster=cluster.address)
    ids = [hit.id for hit in ix.search("", limit=None, facets=False, collapse=False).hits]
    assert len(ids) == len(set(ids)) == len(corpus_index)
    _same_answers(ix, corpus_index, 160)
    ix.close()


def test_three_shards_answer_as_one_index(cluster: Cluster, three_shards: Path, corpus_index: NewsIndex) -> None:
    ix = NewsIndex.open(three_shards, cluster=cluster.address)
    assert ix.manifest.shards == 3 and sorted(ix.manifest.owners) == ["w0", "w1", "w2"]
    assert len(ix) == len(corpus_index)
    _same_answers(ix, corpus_index, 160)
    article = corpus_index.search("经济", limit=1).hits[0]
    assert ix.get(article.id) == corpus_index.get(article.id)
    assert comparable(ix.similar(article.id)) == comparable(corpus_index.similar(article.id))
    assert ix.topics(since="2018", until="2018") == corpus_index.topics(since="2018", until="2018")
    titles = {hit.title[:2] for hit in corpus_index.search("", limit=60, facets=False, collapse=False).hits}
    for prefix in ["经", "中国", "jingji", "jj", "zg", "x", "ai", "区块", *sorted(titles)]:
        assert ix.suggest(prefix) == corpus_index.suggest(prefix), prefix  # the same words, counts and order
    assert len(list(three_shards.glob("suggest-*.bin"))) == 1  # made once, kept beside the manifest
    ix.close()


def test_searches_from_several_threads_at_once_answer_as_one_index(
    cluster: Cluster, three_shards: Path, corpus_index: NewsIndex
) -> None:
    # As `newsearch serve --cluster` searches: requests in threads, on one client, its
    # statistics gathered by whichever search comes first.
    ix = NewsIndex.open(three_shards, cluster=cluster.address)
    _same_answers(ix, corpus_index, 160, threads=8)
    ix.close()


_CONNECTED = """
import json, sys
import psutil
from newsearch import Config, NewsIndex
folder, address, direct = sys.argv[1], sys.argv[2], sys.argv[3] == "direct"
ix = NewsIndex.open(folder, cluster=address, config=Config.from_dict({"cluster": {"direct": direct}}))
hits = [hit.id for hit in ix.search("经济").hits]
me = psutil.Process()
connections = me.net_connections(kind="tcp") if hasattr(me, "net_connections") else me.connections(kind="tcp")
print(json.dumps({"hits": hits, "ports": sorted({c.raddr.port for c in connections if c.raddr})}))
"""


def test_the_client_calls_the_workers_directly_unless_it_can_reach_only_the_scheduler(
    cluster: Cluster, three_shards: Path, corpus_index: NewsIndex
) -> None:
    from distributed import Client

    with Client(cluster.address, set_as_default=False, timeout=30) as client:
        workers = {int(address.rsplit(":", 1)[1]) for address in client.scheduler_info(n_workers=-1)["workers"]}
    scheduler = int(cluster.address.rsplit(":", 1)[1])
    connected = {}
    for way in ("direct", "relayed"):
        done = subprocess.run(
            [sys.executable, "-c", _CONNECTED, str(three_shards), cluster.address, way], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        connected[way] = json.loads(done.stdout)
        assert connected[way]["hits"] == [hit.id for hit in corpus_index.search("经济").hits]
    assert workers <= set(connected["direct"]["ports"])  # each worker holds a shard of the three
    assert connected["relayed"]["ports"] == [scheduler]  # ([cluster] direct = false: the scheduler relays every call)


def test_the_command_line_searches_the_shards(cluster: Cluster, three_shards: Path, corpus_index: NewsIndex) -> None:
    done = _newsearch("search", "--cluster", cluster.address, "--index", str(three_shards), "经济", "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["shards"] == {"total": 3, "successful": 3, "failed": []}
    assert [h["id"] for h in data["hits"]] == [h.id for h in corpus_index.search("经济").hits]
    stats = json.loads(_newsearch("stats", "--cluster", cluster.address, "--index", str(three_shards), "--json").stdout)
    assert stats["articles"] == len(corpus_index)
    done = _newsearch("suggest", "--cluster", cluster.address, "--index", str(three_shards), "jj", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["suggestions"] == [s.to_dict() for s in corpus_index.suggest("jj")]


def test_a_worker_lost_during_searches_gives_partial_results_then_another_worker_serves_its_shard(
    cluster: Cluster, three_shards: Path, corpus_index: NewsIndex
) -> None:
    config = Config.from_dict({"cluster": {"timeout": TIMEOUT}})
    ix = NewsIndex.open(three_shards, cluster=cluster.address, config=config)
    whole = ix.search("经济", collapse=False)
    assert whole.shards is not None and not whole.shards.partial
    held = {hit.id for hit in corpus_index.search("经济", limit=None, collapse=False).hits}
    assert whole.total == len(held)
    completions = ix.suggest("经")
    victim = ix.manifest.owners[2]
    partial = None
    for number in range(200):
        if number == 5:
            cluster.kill(victim)
        began = time.monotonic()
        results = ix.search("经济", collapse=False)
        assert time.monotonic() - began < 3 * TIMEOUT  # never hangs
        assert results.shards is not None
        if results.shards.partial:
            partial = results
            break
    assert partial is not None and partial.shards is not None
    assert [f.shard for f in partial.shards.failed] == [2] and partial.shards.successful == 2
    assert 0 < partial.total < whole.total
    assert {hit.id for hit in partial.hits} <= held
    assert ix.suggest("经") == completions  # (those made before, while a shard is lost)
    # The shard's files are on a filesystem every worker sees: another worker opens it.
    assert comparable(_whole_again(ix, 60)) == comparable(whole)  # the same client, not restarted
    # One worker now holds two shards, which answer a search together, as one index of their segments.
    assert sorted(map(len, ix._parts()[0])) == [1, 2]  # noqa: SLF001
    _same_answers(ix, corpus_index, 160)
    ix.close()
    cluster.start_worker(victim)
    cluster.wait_for({"w0", "w1", "w2"})


def test_a_stalled_worker_holds_up_only_the_search_that_opens_its_shard_again(
    cluster: Cluster, three_shards: Path
) -> None:
    # A worker stopped with SIGSTOP answers nothing and is not known to be gone: a
    # search that opens its shard again waits for it up to the timeout.  The searches
    # that come meanwhile leave that shard out at once instead of waiting behind it.
    config = Config.from_dict({"cluster": {"timeout": TIMEOUT}})
    ix = NewsIndex.open(three_shards, cluster=cluster.address, config=config)
    whole = _whole_again(ix, 60)
    completions = ix.suggest("经", stale_ok=True)
    victim = cluster.workers[ix.manifest.owners[2]]
    victim.send_signal(signal.SIGSTOP)
    try:
        began = time.monotonic()
        assert ix.suggest("经", stale_ok=True) == completions  # (a server's: the shards are asked aside)
        assert time.monotonic() - began < TIMEOUT / 4
        began = time.monotonic()
        first = ix.search("经济", collapse=False)  # (its call to the stalled worker times out)
        assert time.monotonic() - began < 3 * TIMEOUT
        assert first.shards is not None and [f.shard for f in first.shards.failed] == [2]
        time.sleep(1.5)  # (past the pause before a lost shard is opened again)
        with ThreadPoolExecutor(1) as pool:
            reopening = pool.submit(ix.search, "经济", collapse=False)
            time.sleep(TIMEOUT / 4)
            assert not reopening.done()  # (it waits for the stalled worker)
            began = time.monotonic()
            meanwhile = ix.search("经济", collapse=False)
            took = time.monotonic() - began
            assert not reopening.done()
            again = reopening.result(timeout=4 * TIMEOUT)
        assert took < TIMEOUT / 2, took
        for results in (meanwhile, again):
            assert results.shards is not None and [f.shard for f in results.shards.failed] == [2]
            assert results.total == first.total and [h.id for h in results.hits] == [h.id for h in first.hits]
    finally:
        victim.send_signal(signal.SIGCONT)
    assert comparable(_whole_again(ix, 60)) == comparable(whole)
    ix.close()


def test_a_shard_no_worker_can_open_is_left_out_unless_no_partial(
    cluster: Cluster, three_shards: Path, corpus_index: NewsIndex
) -> None:
    config = Config.from_dict({"cluster": {"timeout": TIMEOUT}})
    ix = NewsIndex.open(three_shards, cluster=cluster.address, config=config)
    whole = ix.search("经济", collapse=False)
    shard = three_shards / "shards" / "shard-1"
    hidden = shard.with_name("shard-1.away")
    ix.close()
    shard.rename(hidden)
    try:
        done = _newsearch("search", "--cluster", cluster.address, "--index", str(three_shards), "经济", "--json", timeout=60)
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        assert data["shards"]["successful"] == 2 and [f["shard"] for f in data["shards"]["failed"]] == [1]
        assert "No newsearch index" in data["shards"]["failed"][0]["reason"]
        done = _newsearch("search", "--cluster", cluster.address, "--index", str(three_shards), "经济", timeout=60)
        assert done.returncode == 0 and "Partial results: 2 of 3 shards answered" in done.stderr, done.stderr
        done = _newsearch("search", "--cluster", cluster.address, "--index", str(three_shards), "经济", "--no-partial", timeout=60)
        assert done.returncode == 1 and "shard 1" in done.stderr and "Traceback" not in done.stderr, done.stderr
        server = subprocess.Popen(
            [sys.executable, "-m", "newsearch", "serve", "--cluster", cluster.address, "--index", str(three_shards), "--port", "0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        try:
            assert server.stderr is not None
            url, deadline = None, time.monotonic() + 60
            while url is None:
                assert time.monotonic() < deadline and server.poll() is None
                found = re.search(r"at (http://\S+)", server.stderr.readline())
                url = found.group(1) if found else None
            with urllib.request.urlopen(url + "?q=%E7%BB%8F%E6%B5%8E", timeout=60) as answer:
                assert "部分结果：3 个分片中有 1 个没有响应" in answer.read().decode("utf-8")
            with urllib.request.urlopen(url + "api/search?q=%E7%BB%8F%E6%B5%8E", timeout=60) as answer:
                assert json.load(answer)["shards"]["successful"] == 2
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)
        ix = NewsIndex.open(three_shards, cluster=cluster.address, config=config)
        assert ix.search("经济", collapse=False).shards.partial  # type: ignore[union-attr]
        with pytest.raises(ClusterError, match="completions need every shard: shard 1"):
            ix.suggest("经")  # (a new client: none made yet)
        assert ix.suggest("经", stale_ok=True) == []
    finally:
        hidden.rename(shard)
    assert comparable(_whole_again(ix, 30)) == comparable(whole)  # back without a new client
    assert ix.suggest("经") == corpus_index.suggest("经")
    ix.close()


def test_the_archives_completions_follow_a_commit_to_a_shard(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> None:
    from conftest import write_post

    folder = _index_folder(tmp_path_factory, "growing")
    posts = folder.parent / "posts"
    for i, title in enumerate(["银行股走强", "银行理财新规", "重庆银行上市", "音乐节开幕", "音乐会门票"]):
        write_post(posts, f"p{i}.md", title, "正文的内容与这些词无关。")

    def index() -> None:
        done = _newsearch("index", "--cluster", cluster.address, "--shards", "2", "--index", str(folder), str(posts))
        assert done.returncode == 0, done.stderr

    index()
    ix = NewsIndex.open(folder, cluster=cluster.address)
    server = NewsIndex.open(folder, cluster=cluster.address)  # (as a server asks: at once, from what it has)
    assert [s.text for s in ix.suggest("yin")][:2] == ["银行", "音乐"]
    assert server.suggest("xdkj", stale_ok=True) == []
    write_post(posts, "p5.md", "晓多科技用AI解放人工客服", "正文的内容与这些词无关。")
    index()
    local = NewsIndex.create(folder.parent / "local")
    local.update([posts])
    for prefix in ("xdkj", "晓多", "yin", "yinhang", "y", "重庆", "zhongqing"):
        assert ix.suggest(prefix) == local.suggest(prefix), prefix
    assert "晓多科技" in [s.text for s in ix.suggest("xdkj")]
    assert server.suggest("xdkj", stale_ok=True) == []  # the earlier ones, while the new ones are made
    deadline = time.monotonic() + 120
    while server.suggest("xdkj", stale_ok=True) != local.suggest("xdkj"):
        assert time.monotonic() < deadline, "the completions did not follow the commit"
        time.sleep(0.2)
    ix.close()
    server.close()


def _certificates(folder: Path) -> list[str]:
    """Dask's TLS options for a certificate authority made here and one certificate it
    signed for 127.0.0.1, which the scheduler, the worker and the client all use."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl makes this test's certificates (apt-get install openssl)")

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=newsearch test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "key.pem", "-out", "cert.csr", "-subj", "/CN=127.0.0.1")
    (folder / "san.ext").write_text("subjectAltName = IP:127.0.0.1, DNS:localhost\n", encoding="utf-8")
    openssl("x509", "-req", "-in", "cert.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-out", "cert.pem",
            "-days", "2", "-extfile", "san.ext")
    return ["--tls-ca-file", str(folder / "ca.pem"), "--tls-cert", str(folder / "cert.pem"), "--tls-key", str(folder / "key.pem")]


def test_a_cluster_over_tls_indexes_and_searches_and_a_client_without_its_certificates_is_refused(
    tmp_path: Path, corpus: Path
) -> None:
    tls = _certificates(tmp_path)
    ca, cert, key = tls[1::2]
    cluster = Cluster(tmp_path, tls)
    try:
        cluster.start_worker("t0")
        cluster.wait_for({"t0"})
        assert cluster.address.startswith("tls://")
        posts = [str(p) for p in sorted((corpus / "terminus2049" / "_posts").iterdir())[:40]]
        one = tmp_path / "one"
        assert _newsearch("index", "--index", str(one), *posts).returncode == 0
        folder = tmp_path / "shards"
        folder.mkdir()
        (folder / "newsearch.toml").write_text(
            f'[cluster]\ntimeout = {TIMEOUT}\ntls_ca_file = "{ca}"\ntls_cert = "{cert}"\ntls_key = "{key}"\n', encoding="utf-8"
        )
        done = _newsearch("index", "--cluster", cluster.address, "--shards", "2", "--index", str(folder), *posts)
        assert done.returncode == 0, done.stderr
        local = NewsIndex.open(one)
        ix = NewsIndex.open(folder, cluster=cluster.address)
        assert len(ix) == len(local) == 40
        for query in ("经济", "中国 互联网", '"网络"', ""):
            assert comparable(ix.search(query)) == comparable(local.search(query)), query
        ix.close()
        done = _newsearch("search", "--cluster", cluster.address, "--index", str(folder), "经济", "--json")
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        assert data["shards"] == {"total": 2, "successful": 2, "failed": []}
        assert [h["id"] for h in data["hits"]] == [h.id for h in local.search("经济").hits]
        # Without certificates, with another authority's, or over plain TCP: a one-line error.
        (tmp_path / "bare.toml").write_text(f"[cluster]\ntimeout = {TIMEOUT}\n", encoding="utf-8")
        (tmp_path / "stranger").mkdir()
        ca, cert, key = _certificates(tmp_path / "stranger")[1::2]
        (tmp_path / "stranger.toml").write_text(
            f'[cluster]\ntimeout = {TIMEOUT}\ntls_ca_file = "{ca}"\ntls_cert = "{cert}"\ntls_key = "{key}"\n', encoding="utf-8"
        )
        for address, settings, why in (
            (cluster.address, ["--config", str(tmp_path / "bare.toml")], "set [cluster] tls_ca_file, tls_cert and tls_key"),
            (cluster.address, ["--config", str(tmp_path / "stranger.toml")], "cannot reach the scheduler"),
            (cluster.address.replace("tls://", "tcp://"), [], "is not a TLS scheduler"),
        ):
            done = _newsearch("search", "--cluster", address, "--index", str(folder), *settings, "经济", timeout=120)
            assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
            assert len(done.stderr.strip().splitlines()) == 1 and address in done.stderr and why in done.stderr, done.stderr
    finally:
        cluster.stop()


def test_the_scheduler_address_is_needed_for_an_archive_in_shards(three_shards: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "NEWSEARCH_INDEX"}
    done = subprocess.run(
        [sys.executable, "-m", "newsearch", "search", "--index", str(three_shards), "经济"], capture_output=True, text=True, env=env, timeout=60
    )
    assert done.returncode == 2 and "holds an archive in shards" in done.stderr and "Traceback" not in done.stderr


def test_the_readmes_cluster_example_runs(tmp_path: Path) -> None:
    from conftest import REPO, write_post

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```(\w*)\n(.*?)\n```", readme, re.S | re.M)
    shell = [body for lang, body in blocks if lang == "sh"][5]
    code = [body for lang, body in blocks if lang == "python"][0]
    lines = [re.split(r"\s+#\s", line)[0].strip() for line in shell.splitlines() if line.strip()]
    assert lines[0].startswith("dask scheduler") and "--host 127.0.0.1" in lines[0]
    with socket.socket() as probe:  # the documented port may be taken here
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    lines = [line.replace("8786", port) for line in lines]
    code = code.replace("8786", port)
    write_post(tmp_path / "_posts", "2021-06-15-bot.md", "智能客服机器人走进银行", "银行用客服机器人回答问题。", date="2021-06-15")
    write_post(tmp_path / "_posts", "2021-12-08-rmb.md", "离岸人民币升值", "离岸人民币兑美元升值。", date="2021-12-08")
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    started = []
    try:
        for line in lines[:3]:  # the scheduler and the workers, in the background
            started.append(subprocess.Popen(["bash", "-c", "exec " + line.rstrip("& ")], cwd=tmp_path, env=env,
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from distributed import Client

        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(f"tcp://127.0.0.1:{port}", set_as_default=False, timeout=5) as client:
                    if len(client.scheduler_info(n_workers=-1)["workers"]) == 2:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the README's cluster did not start"
            time.sleep(0.5)
        index, search, serve = lines[3:]
        for line in (index, search):
            done = subprocess.run(["bash", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stderr
        assert "id 2021-06-15-bot" in done.stdout
        server = subprocess.Popen(["bash", "-c", "exec " + serve + " --port 0"], cwd=tmp_path, env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        started.append(server)
        assert server.stderr is not None
        url, deadline = None, time.monotonic() + 60
        while url is None:
            assert time.monotonic() < deadline
            found = re.search(r"at (http://\S+)", server.stderr.readline())
            url = found.group(1) if found else None
        with urllib.request.urlopen(url + "api/search?q=%E5%AE%A2%E6%9C%8D", timeout=30) as answer:
            data = json.load(answer)
        assert data["total"] == 1 and data["shards"] == {"total": 2, "successful": 2, "failed": []}
        (tmp_path / "example.py").write_text("from newsearch import NewsIndex\n" + code, encoding="utf-8")
        done = subprocess.run([sys.executable, "example.py"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0 and "successful=2" in done.stdout, done.stderr
    finally:
        for process in started:
            process.send_signal(signal.SIGKILL)
            process.wait()
