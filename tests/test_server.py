"""``newsearch serve``: the HTTP API against a real server process on a free loopback port."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
import serving
from conftest import SEED_ID, SEEDS, write_post
from typer.testing import CliRunner

from newsearch import NewsIndex
from newsearch.cli import app

runner = CliRunner()
QUERY = "客服"


def cli_json(*args: str | Path) -> dict:
    """What ``newsearch ... --json`` prints, parsed."""
    result = runner.invoke(app, [str(a) for a in args] + ["--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def without_paths(data: dict) -> dict:
    """The CLI's JSON as the API serves it: without the source files' paths."""
    data.pop("path", None)  # an article's
    for hit in data.get("hits", ()):
        hit.pop("path")
    return data


def _hotline_and_markup_posts(folder: Path) -> Path:
    """A finance article that mentions 客服 (so a category filter has a 客服 match to leave out), and a
    tech one whose title and body are HTML markup."""
    write_post(folder, "2020-03-01-rmb.md", "离岸人民币报价", "离岸人民币汇率走强，客服热线繁忙。", date="2020-03-01",
               categories="finance", tags="汇率")
    write_post(folder, "2022-02-01-xss.md", '机器人"><img src=x onerror=alert(1)>', "&lt;script&gt;alert(1)&lt;/script&gt; 客服 &amp; 机器人",
               date="2022-02-01", categories="tech")
    return folder


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory, customer_service_posts: Path) -> Path:
    """Five articles that match 客服: the two 客服 ones, the two above and the seed."""
    root = tmp_path_factory.mktemp("serve")
    index = root / "index"
    NewsIndex.create(index).update([customer_service_posts, _hotline_and_markup_posts(root / "_posts"), SEEDS])
    return index


@pytest.fixture(scope="module")
def server(index_dir: Path):
    with serving.running(index_dir, "--no-access-log") as running:
        yield running
    assert "Traceback" not in "".join(running.log)


# --------------------------------------------------------------------------- same answers as the CLI


def test_healthz(server: serving.Server) -> None:
    assert server.json("/healthz") == (200, {"status": "ok", "articles": 5})


@pytest.mark.parametrize(
    "params, flags",
    [
        ({"q": QUERY}, []),
        ({"q": QUERY, "category": "tech", "sort": "-date", "limit": 2, "page": 2},
         ["--category", "tech", "--sort", "-date", "--limit", "2", "--page", "2"]),
        ({"q": QUERY, "since": "2021", "until": "2022年1月", "facets": "false", "collapse": "false"},
         ["--since", "2021", "--until", "2022年1月", "--no-facets", "--no-collapse"]),
        ({"q": QUERY, "tag": ["AI", "客服"]}, ["--tag", "AI", "--tag", "客服"]),
        ({"q": QUERY, "sort": "recent", "half_life": 10}, ["--recent", "--half-life", "10"]),
        ({"q": "智能客服", "explain": "true"}, ["--explain"]),
        ({"q": "没有这个词组合xyz"}, []),
        ({"q": "客服 热线"}, []),
        ({"q": "客服 热线", "exact": "true"}, ["--exact"]),
        ({}, []),
    ],
)
def test_search_answers_what_search_json_prints(server: serving.Server, index_dir: Path, params: dict, flags: list[str]) -> None:
    status, data = server.json("/api/search", params)
    assert status == 200
    query = [params["q"]] if params.get("q") else []
    assert data == without_paths(cli_json("search", *query, "--index", index_dir, *flags))


def test_search_results_are_real(server: serving.Server) -> None:
    _, data = server.json("/api/search", {"q": QUERY, "category": "tech"})
    assert data["total"] == 3
    assert {hit["categories"][0] for hit in data["hits"]} == {"tech"}
    assert all("<mark>客服</mark>" in hit["snippet"] for hit in data["hits"])
    assert {f["value"]: f["count"] for f in data["facets"]["categories"]} == {"tech": 3}


def test_article_similar_stats_and_suggest_answer_what_the_cli_prints(server: serving.Server, index_dir: Path) -> None:
    assert server.json(f"/api/articles/{SEED_ID}") == (200, without_paths(cli_json("show", SEED_ID, "--index", index_dir)))
    assert server.json(f"/api/articles/{SEED_ID}/similar", {"limit": 3}) == (
        200,
        without_paths(cli_json("similar", SEED_ID, "--limit", "3", "--index", index_dir)),
    )
    status, stats = server.json("/api/stats")
    expected = cli_json("stats", "--index", index_dir)
    expected.pop("path")
    assert (status, stats) == (200, expected)
    status, found = server.json("/api/suggest", {"q": "xdkj"})
    assert status == 200 and found["suggestions"][0]["text"] == "晓多科技"


def test_article_text_is_data_in_json_and_escaped_in_snippets(server: serving.Server) -> None:
    _, data = server.json("/api/search", {"q": "机器人 alert"})
    hit = next(h for h in data["hits"] if h["id"] == "2022-02-01-xss")
    assert hit["title"] == '机器人"><img src=x onerror=alert(1)>'
    assert "<script>" not in hit["snippet"] and "&lt;script&gt;" in hit["snippet"]
    assert hit["snippet"].replace("<mark>", "").replace("</mark>", "").count("<") == 0


def _absolute_paths(data: object) -> list[str]:
    """Every string in ``data`` (JSON) that is an absolute path, or holds one of this machine's."""
    if isinstance(data, dict):
        return [p for key, value in data.items() for p in _absolute_paths(key) + _absolute_paths(value)]
    if isinstance(data, list):
        return [p for value in data for p in _absolute_paths(value)]
    if isinstance(data, str) and (data.startswith("/") or any(root in data for root in ("/tmp/", "/home/", "/work/", "/root/"))):
        return [data]
    return []


def test_no_answer_of_the_api_holds_an_absolute_path(server: serving.Server) -> None:
    requests = [
        ("/api/search", {"q": QUERY}), ("/api/search", {"q": QUERY, "explain": "true", "collapse": "false"}),
        ("/api/search", {}), (f"/api/articles/{SEED_ID}", {}), (f"/api/articles/{SEED_ID}/similar", {}),
        ("/api/articles/2021-06-15-bot", {}), ("/api/stats", {}), ("/api/suggest", {"q": "客"}), ("/healthz", {}),
        ("/api/articles/nope", {}), ("/api/search", {"since": "2021-13"}),
    ]
    for path, params in requests:
        status, data = server.json(path, params)
        assert _absolute_paths(data) == [], (path, params)
    _, data = server.json("/api/search", {"q": QUERY})
    assert data["hits"] and all("path" not in hit for hit in data["hits"])
    assert "path" not in server.json(f"/api/articles/{SEED_ID}")[1]


def test_source_paths_are_served_when_asked_for(index_dir: Path) -> None:
    with serving.running(index_dir, "--show-paths", "--no-access-log") as server:
        _, data = server.json(f"/api/articles/{SEED_ID}")
        assert data["path"] == str(SEEDS / f"{SEED_ID}.txt")
        _, data = server.json("/api/search", {"q": QUERY})
        assert all(Path(hit["path"]).is_absolute() for hit in data["hits"])


# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "path, params, status, parameter",
    [
        ("/api/search", {"q": QUERY, "since": "2021-13"}, 400, "since"),
        ("/api/search", {"q": QUERY, "until": "yesterday"}, 422, "until"),  # not the form of a date
        ("/api/search", {"q": QUERY, "since": "0" * 40}, 422, "since"),
        ("/api/search", {"q": QUERY, "since": "0000"}, 400, "since"),  # the form of one, but no year 0
        ("/api/articles/%0A", {}, 422, "article_id"),
        ("/api/articles/%0A/similar", {}, 404, None),
        ("/api/search", {"q": QUERY, "since": "2022", "until": "2021"}, 400, "since"),
        ("/api/search", {"q": QUERY, "limit": "ten"}, 422, "limit"),
        ("/api/search", {"q": QUERY, "limit": 0}, 422, "limit"),
        ("/api/search", {"q": QUERY, "limit": 101}, 422, "limit"),
        ("/api/search", {"q": QUERY, "page": 0}, 422, "page"),
        ("/api/search", {"q": QUERY, "page": 1001}, 422, "page"),
        ("/api/search", {"q": QUERY, "sort": "random"}, 422, "sort"),
        ("/api/search", {"q": QUERY, "half_life": -3}, 422, "half_life"),
        ("/api/search", {"q": QUERY, "facets": "maybe"}, 422, "facets"),
        ("/api/search", {"q": "客" * 201}, 422, "q"),
        ("/api/suggest", {}, 422, "q"),
        ("/api/stats", {"top": 0}, 422, "top"),
        ("/api/articles/nope", {}, 404, None),
        ("/api/articles/nope/similar", {}, 404, None),
        ("/api/nothing", {}, 404, None),
    ],
)
def test_errors_are_json_with_the_right_status(
    server: serving.Server, path: str, params: dict, status: int, parameter: str | None
) -> None:
    got, headers, body = server.get(path, params)
    assert got == status
    assert headers["content-type"] == "application/json"
    error = json.loads(body)["error"]
    assert error["status"] == status and error["parameter"] == parameter
    assert error["message"].endswith(".") and "Traceback" not in error["message"]
    if parameter:
        assert f"Invalid value for {parameter}:" in error["message"]


@pytest.mark.parametrize("name", ["category", "tag"])
def test_too_many_filter_values_are_refused(server: serving.Server, name: str) -> None:
    from newsearch.server import MAX_FILTER_VALUES

    values = [f"v{n}" for n in range(MAX_FILTER_VALUES + 1)]
    for path in ("/api/search", "/"):
        status, _, body = server.get(path, {"q": QUERY, name: values})
        assert status == 422, path
        assert f"Invalid value for {name}:" in html.unescape(body.decode())
    status, data = server.json("/api/search", {"q": QUERY, name: values[:MAX_FILTER_VALUES]})
    assert status == 200, data
    status, data = server.json("/api/search", {"q": QUERY, name: values})
    assert data["error"]["parameter"] == name


def test_the_page_grows_linearly_with_its_filters(server: serving.Server) -> None:
    def size(n: int) -> int:
        # Categories that match (any of them), tags that filter everything out: the
        # page shows the filters themselves.
        params = {"q": QUERY, "category": ["tech", *(f"category-{k:03d}-" + "x" * 30 for k in range(n - 1))],
                  "tag": [f"tag-{k:03d}-" + "y" * 30 for k in range(n)], "since": "2020"}
        status, _, body = server.get("/", params)
        assert status == 200
        return len(body)

    small, medium, large = size(5), size(10), size(20)
    # Linear: each value added costs about the same; a link per filter repeating every
    # other filter made the second step cost twice the first (and more, page after page).
    assert large - medium <= 2.4 * (medium - small), (small, medium, large)


def test_a_bad_date_names_the_value(server: serving.Server) -> None:
    _, data = server.json("/api/search", {"q": QUERY, "since": "2021-13"})
    assert data["error"]["message"] == "Invalid value for since: '2021-13' is not a real date."


def test_only_get_is_answered(server: serving.Server) -> None:
    request = urllib.request.Request(server.url + "api/search?q=x", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 405
    assert json.loads(caught.value.read())["error"]["status"] == 405


def test_openapi_describes_the_api_without_cdn_docs(server: serving.Server) -> None:
    status, spec = server.json("/openapi.json")
    assert status == 200
    assert {"/api/search", "/api/articles/{article_id}", "/api/articles/{article_id}/similar", "/api/stats",
            "/api/suggest", "/healthz"} <= set(spec["paths"])
    names = {p["name"] for p in spec["paths"]["/api/search"]["get"]["parameters"]}
    assert {"q", "category", "tag", "since", "until", "sort", "page", "limit", "facets", "collapse"} <= names
    assert server.get("/docs")[0] == 404  # Swagger UI would load its scripts from a CDN


def test_a_404_repeats_a_long_id_cut_short(server: serving.Server) -> None:
    long_id = urllib.parse.quote("长" * 2000)  # cut to 800 characters below: 7 KB encoded, a URL still read
    status, data = server.json("/api/articles/" + long_id[: 9 * 800])
    assert status == 404
    assert data["error"]["message"] == f"No article with id '{'长' * 100}…' in the index."
    status, _, body = server.get("/articles/" + long_id[: 9 * 800])
    assert status == 404 and "长" * 101 not in body.decode() and "长" * 100 + "…" in body.decode()


def test_head_is_answered_like_get_without_a_body(server: serving.Server) -> None:
    for path in ("/healthz", "/api/stats", f"/api/articles/{SEED_ID}", "/?q=%E5%AE%A2%E6%9C%8D", "/static/style.css"):
        got = server.get(path)
        request = urllib.request.Request(server.url.rstrip("/") + path, method="HEAD")
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200, path
            assert response.read() == b""
            assert response.headers["content-type"] == got[1]["content-type"]
            assert int(response.headers["content-length"]) == len(got[2]), path


def _raw_request(server: serving.Server, request_line: bytes, piece: int | None = None) -> bytes:
    """What the server answers a request with this request line, sent at once or ``piece``
    bytes at a time (stopping if the server closes the connection first)."""
    data = request_line + b"\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    with socket.create_connection((server.host, server.port), timeout=20) as sock:
        try:
            for start in range(0, len(data), piece or len(data)):
                sock.sendall(data[start:start + (piece or len(data))])
                if piece:
                    time.sleep(0.002)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before reading it all
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.mark.parametrize("piece", [None, 4096], ids=["at-once", "in-pieces"])
def test_an_over_long_url_is_414(server: serving.Server, piece: int | None) -> None:
    for target in (b"/api/articles/" + b"a" * 100_000, b"/api/search?q=" + b"%E5%AE%A2" * 4000):
        answer = _raw_request(server, b"GET " + target + b" HTTP/1.1", piece)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 414 "), answer[:300]
        error = json.loads(body)["error"]
        assert error["status"] == 414 and "too long" in error["message"] and len(body) < 300
    # A page says it in a page; a long URL that is still short enough is served.
    status, _, body = server.get("/", {"q": QUERY, "tag": ["长" * 300] * 4})
    assert status == 414 and "网址太长" in body.decode()
    assert server.get("/", {"q": QUERY, "tag": ["长" * 100] * 2})[0] == 200


def test_no_endpoint_reads_a_path_from_the_client(server: serving.Server) -> None:
    for path in ("/static/../server.py", "/static/..%2fserver.py", "/static/%2e%2e/%2e%2e/pyproject.toml",
                 "/api/articles/..%2f..%2fetc%2fpasswd", "/articles/%2fetc%2fpasswd"):
        status, _, body = server.get(path)
        assert status == 404, path
        assert b"root:" not in body and b"import" not in body


# --------------------------------------------------------------------------- pages


def test_search_page_and_article_page(server: serving.Server) -> None:
    status, headers, body = server.get("/", {"q": QUERY})
    page = body.decode()
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "找到 <strong>5</strong> 篇文章" in page
    assert "<mark>客服</mark>" in page
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>alert" not in page
    assert "<img src=x" not in page and "机器人\"&gt;&lt;img src=x onerror=alert(1)&gt;" in page
    status, _, body = server.get(f"/articles/{SEED_ID}", {"q": QUERY})
    assert status == 200 and "晓多科技" in body.decode() and "相关文章" in body.decode()


def test_hits_show_their_tags_as_escaped_filter_links(server: serving.Server) -> None:
    page = server.get("/", {"q": QUERY, "category": "tech"})[2].decode().replace("<mark>", "").replace("</mark>", "")
    hit = re.search(r'<article class="hit">(?:(?!</article>).)*智能客服走进银行.*?</article>', page, re.S)
    assert hit is not None
    links = dict(re.findall(r'<a class="tag" href="([^"]*)"[^>]*>#([^<]*)</a>', hit.group(0)))
    assert set(links.values()) == {"AI", "客服"}
    tag_url = next(url for url, tag in links.items() if tag == "AI")
    status, _, body = server.get(html.unescape(tag_url))
    assert status == 200 and "找到 <strong>1</strong> 篇文章" in body.decode()
    assert "tag=AI" in tag_url and "q=" in tag_url and "category=tech" in tag_url


def test_empty_date_fields_look_empty(server: serving.Server) -> None:
    page = server.get("/", {"q": QUERY})[2].decode()
    fields = re.findall(r'<input name="(since|until)" value="([^"]*)" placeholder="([^"]*)"', page)
    assert [name for name, _, _ in fields] == ["since", "until"]
    for _, value, hint in fields:
        assert value == "" and not re.search(r"\d", hint), hint  # no date that reads as a filter set


def test_the_article_page_marks_the_query_it_was_opened_from(server: serving.Server) -> None:
    _, data = server.json("/api/search", {"q": QUERY})
    hit = next(h for h in data["hits"] if h["id"] == "2022-01-10-bot2")
    assert "<mark>客服</mark>" in hit["snippet"]
    page = server.get("/", {"q": QUERY})[2].decode()
    assert f'href="/articles/2022-01-10-bot2?q={urllib.parse.quote(QUERY)}"' in page  # links carry the query
    status, _, body = server.get("/articles/2022-01-10-bot2", {"q": QUERY})
    article = body.decode()
    assert status == 200
    assert "<h1><mark>客服</mark>外包</h1>" in article
    assert "<p><mark>客服</mark>行业的人工成本上升。</p>" in article
    plain = server.get("/articles/2022-01-10-bot2")[2].decode()
    assert "<mark>" not in plain and "<p>客服行业的人工成本上升。</p>" in plain
    # Marked text stays escaped.
    status, _, body = server.get("/articles/2022-02-01-xss", {"q": "机器人"})
    article = body.decode()
    assert "<mark>机器人</mark>&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in article
    assert "&lt;script&gt;alert(1)&lt;/script&gt; 客服 &amp; <mark>机器人</mark>" in article
    assert "<img src=x" not in article and "<script>alert" not in article


def test_the_search_page_marks_related_hits_and_links_to_exact_ones(server: serving.Server) -> None:
    _, data = server.json("/api/search", {"q": "客服 热线"})
    assert (data["total"], data["exact"]) == (5, 1)  # 热线 is in one article; the others hold 客服
    page = server.get("/", {"q": "客服 热线"})[2].decode()
    assert "其中 1 篇包含全部关键词" in page
    assert page.count('<span class="related"') == 4
    exact_link = re.search(r'<a href="([^"]*exact=true[^"]*)">只看包含全部关键词的</a>', page)
    assert exact_link is not None
    status, _, body = server.get(html.unescape(exact_link.group(1)))
    exact_page = body.decode()
    assert status == 200 and "找到 <strong>1</strong> 篇文章" in exact_page and 'class="related"' not in exact_page
    assert "离岸人民币报价" in exact_page


def test_page_errors_are_pages_in_chinese(server: serving.Server) -> None:
    status, headers, body = server.get("/", {"q": QUERY, "since": "2021-13"})
    assert status == 400 and headers["content-type"].startswith("text/html")
    assert "请求有误" in body.decode() and "2021-13" in body.decode()
    status, _, body = server.get("/articles/nope")
    assert status == 404 and "找不到" in body.decode()
    assert server.get("/", {"limit": 1000})[0] == 422


# --------------------------------------------------------------------------- the index changes under the server


def _one_article(tmp_path: Path) -> tuple[Path, Path]:
    """(posts folder, index) of one article about 港珠澳, for tests that change the index."""
    posts = tmp_path / "_posts"
    write_post(posts, "a.md", "第一篇", "港珠澳大桥通车。")
    index = tmp_path / "index"
    NewsIndex.create(index).update([posts])
    return posts, index


def test_a_new_commit_is_served_without_restart(tmp_path: Path) -> None:
    posts, index = _one_article(tmp_path)
    with serving.running(index, "--no-access-log") as server:
        assert server.json("/api/search", {"q": "港珠澳"})[1]["total"] == 1
        write_post(posts, "b.md", "第二篇", "港珠澳大桥客流创新高。")
        result = subprocess.run([sys.executable, "-m", "newsearch", "index", "--index", str(index), str(posts)],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        _, data = server.json("/api/search", {"q": "港珠澳"})
        assert data["total"] == 2 and {h["id"] for h in data["hits"]} == {"a", "b"}
        assert server.json("/api/articles/b")[0] == 200
        # Completions catch up with the commit (prepared by another process meanwhile).
        deadline = time.monotonic() + 60
        while not any(s["text"] == "第二篇" for s in server.json("/api/suggest", {"q": "第二"})[1]["suggestions"]):
            assert time.monotonic() < deadline, "completions never caught up with the commit"
            time.sleep(0.2)
        # A rebuild publishes a new generation of the index: followed as well.
        result = subprocess.run([sys.executable, "-m", "newsearch", "index", "--rebuild", "--index", str(index),
                                 str(posts / "b.md")], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        _, data = server.json("/api/search", {"q": "港珠澳"})
        assert [h["id"] for h in data["hits"]] == ["b"]
        assert server.json("/api/articles/a")[0] == 404


@pytest.mark.slow  # a server searched through a whole index run: CI runs it with -m slow
def test_searches_are_served_while_an_index_run_commits(tmp_path: Path) -> None:
    posts = tmp_path / "_posts"
    body = "\n\n".join(f"第{n}段：长江流域防汛形势严峻，各地加强堤防巡查。" for n in range(40))
    for n in range(1200):
        write_post(posts, f"{n:05d}.md", f"防汛简报第{n}期", f"{body}\n\n编号{n}。", date=f"2021-07-{n % 28 + 1:02d}")
    index = tmp_path / "index"
    NewsIndex.create(index).update([posts / "00000.md"])
    config = tmp_path / "small-jobs.toml"
    config.write_text("[indexing]\nbatch_size = 200\nworkers = 1\n")
    with serving.running(index, "--no-access-log") as server:
        indexer = subprocess.Popen(
            [sys.executable, "-m", "newsearch", "index", "--index", str(index), "--config", str(config), str(posts)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        totals: list[int] = []
        while indexer.poll() is None:
            status, data = server.json("/api/search", {"q": "防汛", "limit": 3})
            assert status == 200, data
            totals.append(data["total"])
            assert server.json("/api/suggest", {"q": "fangxun"})[0] == 200
        assert indexer.wait() == 0, indexer.stderr.read() if indexer.stderr else ""
        totals.append(server.json("/api/search", {"q": "防汛"})[1]["total"])
    assert totals == sorted(totals), "a search saw fewer articles than an earlier one"
    assert totals[-1] == 1200
    assert len(set(totals)) > 2, f"searches saw only {sorted(set(totals))}: the run was not observed mid-way"


# --------------------------------------------------------------------------- the process


def _other_address() -> str | None:
    """An address of this machine that is not loopback, if it has one."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        address = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") else address


def test_binds_to_loopback_by_default(server: serving.Server) -> None:
    assert server.url.startswith("http://127.0.0.1:")
    address = _other_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address to try")
    port = int(server.url.rsplit(":", 1)[1].strip("/"))
    with pytest.raises(OSError):
        socket.create_connection((address, port), timeout=3).close()


def test_any_other_address_is_announced(index_dir: Path) -> None:
    server = serving.start(index_dir, "--host", "0.0.0.0", "--no-access-log")
    try:
        assert any("other machines can search this index" in line for line in server.log)
    finally:
        assert serving.stop(server) == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_server_cleanly(index_dir: Path, sig: int) -> None:
    server = serving.start(index_dir)
    assert server.json("/api/search", {"q": QUERY})[0] == 200
    assert serving.stop(server, sig) == 0
    log = "".join(server.log)
    assert "Server stopped." in log and "Traceback" not in log


def _serve(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "newsearch", "serve", *map(str, args)], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "NO_COLOR": "1"})


def test_a_busy_port_and_a_missing_index_are_one_line_errors(index_dir: Path, tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    try:
        result = _serve("--index", index_dir, "--port", taken.getsockname()[1])
    finally:
        taken.close()
    assert result.returncode == 2
    assert result.stderr.startswith("Error: Invalid value for --port: cannot listen on 127.0.0.1:")
    assert len(result.stderr.strip().splitlines()) == 1
    result = _serve("--index", tmp_path / "none")
    assert result.returncode == 1 and result.stderr.startswith("Error: No newsearch index at ")
    result = _serve("--index", index_dir, "--port", "70000")
    assert result.returncode == 2 and "--port" in result.stderr
    result = _serve("--index", index_dir, "--host", "no-such-host.invalid", "--port", "0")
    assert result.returncode == 2 and "--host" in result.stderr and "Traceback" not in result.stderr


def test_server_bounds_come_from_the_settings(index_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "newsearch.toml"
    config.write_text("[server]\nmax_limit = 3\nmax_query_chars = 5\n")
    server = serving.start(index_dir, "--config", str(config), "--no-access-log")
    try:
        assert server.json("/api/search", {"q": QUERY, "limit": 3})[0] == 200
        assert server.json("/api/search", {"q": QUERY, "limit": 4})[0] == 422
        assert server.json("/api/search", {"q": "客服客服客服"})[0] == 422
    finally:
        serving.stop(server)


def _state(pid: str) -> str:
    """A process's state letter (Z: exited, not reaped), or "" when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat[stat.rfind(")") + 2]


def test_worker_processes_share_the_port_and_stop_together(index_dir: Path) -> None:
    server = serving.start(index_dir, "--workers", "2", "--no-access-log")
    try:
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
        workers = [pid for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()]
        assert len(workers) == 2, children
        answers = {server.json("/api/search", {"q": QUERY})[1]["total"] for _ in range(20)}
        assert answers == {5}
    finally:
        assert serving.stop(server) == 0
    time.sleep(0.5)
    left = [(pid, _state(pid)) for pid in children if _state(pid) not in ("", "Z")]
    assert not left, left
    log = "".join(server.log)
    assert "Server stopped." in log and "Traceback" not in log


def test_an_index_gone_from_under_the_server_is_503_without_its_path(tmp_path: Path) -> None:
    _, index = _one_article(tmp_path)
    with serving.running(index, "--no-access-log") as server:
        assert server.json("/healthz")[0] == 200
        shutil.rmtree(index)
        for path in ("/healthz", "/api/search"):
            status, data = server.json(path, {"q": "港珠澳"})
            assert status == 503 and data["error"]["status"] == 503
            assert str(tmp_path) not in data["error"]["message"]
        status, _, body = server.get("/", {"q": "港珠澳"})
        assert status == 503 and "索引暂时不可用" in body.decode() and str(tmp_path) not in body.decode()
    assert f"No newsearch index at {index}" in "".join(server.log)  # the log says why


@pytest.mark.parametrize("suffix", [".npo", ".nbody.col"])
def test_a_file_truncated_under_the_server_is_503_and_healthz_says_so(tmp_path: Path, suffix: str) -> None:
    posts = tmp_path / "_posts"
    for n in range(20):
        write_post(posts, f"{n:02d}.md", f"第{n}篇", f"港珠澳大桥通车第{n}天，客流{n}万人次，口岸通关顺畅。")
    index = tmp_path / "index"
    NewsIndex.create(index).update([posts])
    with serving.running(index, "--no-access-log") as server:
        assert server.json("/api/search", {"q": "港珠澳"})[1]["total"] == 20
        assert server.json("/healthz")[0] == 200
        target = next(p for p in index.iterdir() if p.name.endswith(suffix))
        data = target.read_bytes()
        with open(target, "r+b") as file:  # the same file, shortened: the server has it open
            file.truncate(len(data) // 8)
        # Words not searched before: their postings are read from the damaged file.
        for path, params in [("/healthz", {}), ("/api/search", {"q": "口岸 通关"}), ("/api/articles/00/similar", {})]:
            status, answer = server.json(path, params)
            assert status == 503, (path, answer)
            assert answer["error"]["status"] == 503 and "damaged" in answer["error"]["message"]
            assert str(tmp_path) not in answer["error"]["message"]
        status, _, body = server.get("/", {"q": "顺畅"})
        assert status == 503 and "索引暂时不可用" in body.decode()
        # Put back, the index answers again.
        target.write_bytes(data)
        assert server.json("/api/search", {"q": "口岸 通关"})[1]["total"] == 20
        assert server.json("/healthz")[0] == 200
    log = "".join(server.log)
    assert f"The index at {index} is damaged: {target.name} has" in log
    assert "Traceback" not in log and "struct.error" not in log


def test_hit_titles_mark_what_matched_and_stay_escaped(server: serving.Server) -> None:
    page = server.get("/", {"q": QUERY})[2].decode()
    titles = re.findall(r"<h2><a [^>]*>(.*?)</a>", page)
    assert any("<mark>" in t for t in titles), titles
    assert all(re.sub(r"</?mark>", "", t).find("<") == -1 for t in titles), titles  # only <mark> is markup
