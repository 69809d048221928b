"""Diagrams (draw_dot), rendering without the system Graphviz (render), and text traces."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import graphviz
import pytest

import microgradx
from microgradx import Value, draw_dot, render, viz
from microgradx.examples import expression
from microgradx.viz import (
    RendererNotFound,
    RenderError,
    path_between,
    renderer,
    to_svg,
    topological,
    trace,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def no_system_dot(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine has no system Graphviz: only graphviz-pure can render."""
    monkeypatch.setattr(renderer, "system_dot", lambda: None)
    assert viz.find_renderer() is not None, "graphviz-pure (extra viz) must be installed"
    assert "graphviz-pure" in Path(viz.find_renderer() or "").name


@pytest.fixture
def no_renderer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(renderer, "system_dot", lambda: None)
    monkeypatch.setattr(renderer, "_graphviz_pure", lambda: None)


def records(source: str) -> dict[str, str]:
    """node name -> label of every record node in DOT source."""
    found = re.findall(r'^\s*(\w+) \[label="(.*?)"(?= |\])[^\n]*shape=record', source, re.M)
    return dict(found)


def edges(source: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\w+) -> (\w+)", source, re.M)


def svg_texts(svg: str) -> list[str]:
    root = ET.fromstring(svg.encode("utf-8"))
    return [t.text or "" for t in root.iter(f"{SVG}text")]


# -- draw_dot -----------------------------------------------------------------------------


def test_draw_dot_is_a_digraph_with_a_record_per_value_and_a_node_per_op() -> None:
    loss, _ = expression()
    dot = draw_dot(loss)
    assert isinstance(dot, graphviz.Digraph)
    assert dot.format == "svg"
    assert "rankdir=LR" in dot.source
    labels = records(dot.source)
    assert len(labels) == 7
    assert sorted(labels.values()) == sorted(
        [
            "{ a | data 2.0000 | grad 6.0000 }",
            "{ b | data -3.0000 | grad -4.0000 }",
            "{ c | data 10.0000 | grad -2.0000 }",
            "{ f | data -2.0000 | grad 4.0000 }",
            "{ e | data -6.0000 | grad -2.0000 }",
            "{ d | data 4.0000 | grad -2.0000 }",
            "{ L | data -8.0000 | grad 1.0000 }",
        ]
    )
    ops = re.findall(r'^\s*(\w+_op) \[label="(.*?)"', dot.source, re.M)
    assert sorted(label for _, label in ops) == ["*", "*", "+"]


def test_edges_follow_the_data_input_to_op_to_output() -> None:
    loss, _ = expression()
    dot = draw_dot(loss)
    names = {label.split(" | ")[0].strip("{ "): n for n, label in records(dot.source).items()}
    flow = edges(dot.source)
    for out, ins in (("e", "ab"), ("d", "ec"), ("L", "df")):
        op = names[out] + "_op"
        assert (op, names[out]) in flow
        for name in ins:
            assert (names[name], op) in flow
    assert len(flow) == 9
    # every node is declared before an edge leaves it: topological, inputs first
    order = [n for n, _ in flow]
    assert order.index(names["a"]) < order.index(names["e"]) < order.index(names["d"])


def test_micrograd_arguments_format_and_rankdir() -> None:
    loss, _ = expression()
    dot = draw_dot(loss, format="png", rankdir="TB")
    assert dot.format == "png"
    assert "rankdir=TB" in dot.source
    # top to bottom: a node's fields still read left to right
    assert 'label="{ a | data 2.0000 | grad 6.0000 }"' not in dot.source
    assert 'label="a | data 2.0000 | grad 6.0000"' in dot.source


def test_hide_grads_and_number_format() -> None:
    loss, _ = expression()
    assert "grad" not in draw_dot(loss, show_grad=False).source
    assert '"{ a | data 2.00 | grad 6.00 }"' in draw_dot(loss, fmt=".2f").source
    assert '"{ a | data 2 | grad 6 }"' in draw_dot(loss, fmt=lambda x: f"{x:g}").source


def test_constants_are_drawn_dashed_without_a_grad() -> None:
    x = Value(3.0, label="x")
    y = 2 * x + 1
    y.backward()
    source = draw_dot(y).source
    consts = [line for line in source.splitlines() if "const " in line]
    assert len(consts) == 2
    assert all("dashed" in line and "grad" not in line for line in consts)
    assert any("const 2.0000" in line for line in consts)
    assert any("const 1.0000" in line for line in consts)


def test_a_value_used_twice_has_two_edges_and_create_graph_grads_show_as_numbers() -> None:
    x = Value(3.0, label="x")
    y = x * x
    y.backward(create_graph=True)
    assert isinstance(x.grad, Value)
    source = draw_dot(y).source
    assert '"{ x | data 3.0000 | grad 6.0000 }"' in source
    assert edges(source).count(("v0", "v1_op")) == 2


def test_highlight_the_path_from_a_parameter_to_the_loss() -> None:
    loss, v = expression()
    path = path_between(v["a"], loss)
    assert path == {v["a"], v["e"], v["d"], v["L"]}
    assert path_between(v["c"], v["e"]) == set()
    source = draw_dot(loss, highlight=path).source
    red = {
        label.split(" | ")[0].strip("{ ")
        for line in source.splitlines()
        if "#dc2626" in line and (m := re.search(r'label="(\{ \w+) \|', line))
        for label in [m.group(1)]
    }
    assert red == {"a", "e", "d", "L"}
    red_edges = [line for line in source.splitlines() if "->" in line and "#dc2626" in line]
    assert len(red_edges) == 6  # a->*, *->e, e->+, +->d, d->*, *->L


def test_max_nodes_draws_the_nodes_nearest_the_root_and_summarises_the_rest() -> None:
    w = Value(0.5, label="w")
    total = Value(0.0)
    for i in range(2000):
        total = total + (w * float(i)).tanh()
    assert len(topological(total)) == 8002
    dot = draw_dot(total, max_nodes=25)
    labels = records(dot.source)
    assert len(labels) == 26  # 25 Values and the summary
    summary = labels["summary"]
    assert "7,977 more nodes not drawn" in summary
    hidden = {
        k: int(n.replace(",", "")) for k, n in re.findall(r"(add|mul|tanh) ([\d,]+)", summary)
    }
    drawn = {
        name: len(re.findall(rf'_op \[label="?{re.escape(symbol)}[" ]', dot.source))
        for name, symbol in (("add", "+"), ("mul", "*"), ("tanh", "tanh"))
    }
    assert sum(drawn.values()) > 10
    assert {k: hidden[k] + drawn[k] for k in drawn} == {"add": 2000, "mul": 2000, "tanh": 2000}
    drawn_constants = len(re.findall(r"const \d", dot.source))
    assert f"leaves: 1 with grad, {2000 - drawn_constants:,} constants" in summary
    assert any(a == "summary" for a, _ in edges(dot.source))
    # the drawn part is the neighbourhood of the output
    assert '"{ data 0.0000 | grad 1.0000 }"' not in dot.source
    assert f"data {total.data:.4f}" in labels["v0"]


def test_several_outputs_share_one_diagram() -> None:
    x = Value(2.0, label="x")
    y, z = x * 3, x.exp()
    for roots in ([y, z], [y, z, y]):
        source = draw_dot(roots).source
        assert len(records(source)) == 4
        assert source.count("#fde68a") == 2  # both outputs are marked
    assert len(trace([y, z, z]).splitlines()) == 4


def test_max_nodes_none_or_large_draws_everything() -> None:
    loss, _ = expression()
    assert "summary" not in draw_dot(loss, max_nodes=7).source
    assert "summary" in draw_dot(loss, max_nodes=6).source
    assert len(records(draw_dot(loss, max_nodes=None).source)) == 7


def test_deep_graphs_are_walked_without_recursion() -> None:
    x = Value(1.0)
    y = x
    for _ in range(50_000):
        y = y + 1.0
    dot = draw_dot(y, max_nodes=10)
    assert "99,991 more nodes not drawn" in dot.source
    assert len(topological(y)) == 100_001
    lines = trace(y, max_nodes=3).splitlines()
    assert lines[0] == "... 99,998 earlier nodes not shown"
    assert len(lines) == 4


@pytest.mark.usefixtures("no_system_dot")
def test_labels_with_record_characters_are_escaped() -> None:
    label = 'a|b {c} <d> "e"'
    y = Value(1.0, label=label).exp()
    dot = draw_dot(y)
    assert r"a\|b \{c\} \<d\> \"e\"" in dot.source
    assert label in svg_texts(to_svg(dot))


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"root": "x"}, TypeError),
        ({"root": []}, ValueError),
        ({"max_nodes": 0}, ValueError),
        ({"max_nodes": True}, ValueError),
        ({"rankdir": "XY"}, ValueError),
        ({"format": "s v g"}, ValueError),
        ({"fmt": ".4q"}, ValueError),
        ({"fmt": 4}, TypeError),
        ({"highlight": [1.0]}, TypeError),
        ({"stack": "yes"}, TypeError),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], error: type[Exception]) -> None:
    args: dict[str, object] = {"root": Value(1.0) * 2}
    args.update(kwargs)
    with pytest.raises(error):
        draw_dot(**args)  # type: ignore[arg-type]


# -- rendering without the system Graphviz ------------------------------------------------


@pytest.mark.usefixtures("no_system_dot")
def test_render_svg_with_graphviz_pure(tmp_path: Path) -> None:
    loss, _ = expression()
    written = render(draw_dot(loss), tmp_path / "expr.svg")
    assert written == tmp_path / "expr.svg"
    texts = svg_texts(written.read_text(encoding="utf-8"))
    for text in ("a", "e", "L", "data 2.0000", "grad 6.0000", "data -8.0000", "*", "+"):
        assert text in texts


@pytest.mark.usefixtures("no_system_dot")
def test_stacked_top_to_bottom_diagrams_are_narrow(tmp_path: Path) -> None:
    from microgradx.examples import neuron

    o, _ = neuron()

    def size(svg: str) -> tuple[float, float]:
        root = ET.fromstring(svg)
        return float(root.get("width", "0pt")[:-2]), float(root.get("height", "0pt")[:-2])

    wide = size(to_svg(draw_dot(o)))
    narrow = size(to_svg(draw_dot(o, rankdir="TB", stack=True)))
    assert wide[0] > 3 * wide[1] and narrow[1] > 1.5 * narrow[0]  # LR wide, TB tall
    assert narrow[0] < wide[0] / 3
    # the fields of a box are stacked: in TB a record's fields stack inside braces
    stacked = records(draw_dot(o, rankdir="TB", stack=True).source)
    side = records(draw_dot(o, rankdir="TB").source)
    assert all(label.startswith("{") for label in stacked.values())
    assert not any(label.startswith("{") for label in side.values())
    texts = svg_texts(to_svg(draw_dot(o, rankdir="TB", stack=True)))
    assert {"x1", "data 2.0000", "grad -1.5000", "o", "data 0.7071"} <= set(texts)


@pytest.mark.usefixtures("no_system_dot")
def test_render_png_with_graphviz_pure(tmp_path: Path) -> None:
    loss, _ = expression()
    written = render(draw_dot(loss), tmp_path / "expr", format="png")
    assert written == tmp_path / "expr.png"
    data = written.read_bytes()
    assert data[:8] == PNG_MAGIC
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width > 3 * height > 0  # laid out left to right


@pytest.mark.usefixtures("no_system_dot")
def test_render_picks_the_format_from_the_suffix_and_accepts_values(tmp_path: Path) -> None:
    x = Value(2.0, label="x")
    y = x.tanh()
    assert render(y, tmp_path / "y.png").read_bytes()[:8] == PNG_MAGIC
    assert render(y, tmp_path / "y").suffix == ".svg"
    # else the svg or png format the diagram was made with; an unknown suffix is kept
    assert render(draw_dot(y, format="png"), tmp_path / "w").read_bytes()[:8] == PNG_MAGIC
    assert render(draw_dot(y, format="png"), tmp_path / "w.svg").read_bytes()[:5] == b"<?xml"
    assert render(y, tmp_path / "lesson.v2") == tmp_path / "lesson.v2.svg"
    with pytest.raises(RenderError, match="gif"):  # a Graphviz format graphviz-pure lacks
        render(y, tmp_path / "g.gif")
    assert not (tmp_path / "g.gif.svg").exists()
    assert render(y, tmp_path / "y.dot").read_text(encoding="utf-8").startswith("digraph")
    assert microgradx.viz.save is render
    plain = graphviz.Digraph()
    plain.edge("p", "q")
    assert "q" in svg_texts(render(plain, str(tmp_path / "plain.svg")).read_text("utf-8"))
    with pytest.raises(ValueError, match=r"\.png"):
        render(y, tmp_path / "z.png", format="svg")
    with pytest.raises(TypeError, match="draw_dot"):
        render(object(), tmp_path / "z.svg")
    assert not (tmp_path / "z.svg").exists()


@pytest.mark.usefixtures("no_system_dot")
def test_jupyter_display_and_pipe_work_with_graphviz_pure(tmp_path: Path) -> None:
    loss, _ = expression()
    dot = draw_dot(loss)
    bundle = dot._repr_mimebundle_()
    assert list(bundle) == ["image/svg+xml"]
    assert "data -8.0000" in svg_texts(bundle["image/svg+xml"])
    assert "grad 4.0000" in svg_texts(dot._repr_svg_())
    assert "data -8.0000" in svg_texts(to_svg(loss))
    assert dot.pipe(format="png")[:8] == PNG_MAGIC
    out = dot.render(tmp_path / "graph", format="png")
    assert Path(out) == tmp_path / "graph.png"
    assert Path(out).read_bytes()[:8] == PNG_MAGIC
    assert (tmp_path / "graph").read_text(encoding="utf-8") == dot.source
    # graphviz's own call forms, as written for micrograd's notebooks
    out = dot.render("gout", str(tmp_path), False, True)
    assert Path(out) == tmp_path / "gout.svg"
    assert "grad 6.0000" in svg_texts(Path(out).read_text(encoding="utf-8"))
    assert not (tmp_path / "gout").exists()  # cleanup=True removed the source
    out = dot.render(outfile=tmp_path / "named.png")
    assert Path(out).read_bytes()[:8] == PNG_MAGIC
    assert (tmp_path / "named.gv").read_text(encoding="utf-8") == dot.source
    with pytest.raises(FileExistsError):
        dot.render(outfile=tmp_path / "named.png", raise_if_result_exists=True)


@pytest.mark.usefixtures("no_system_dot")
def test_a_renderer_failure_is_reported(tmp_path: Path) -> None:
    with pytest.raises(viz.RenderError, match="nosuchformat"):
        render(draw_dot(Value(1.0) + 1), tmp_path / "x", format="nosuchformat")


def test_graphviz_pure_is_found_next_to_the_interpreter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    assert renderer.system_dot() is None
    found = viz.find_renderer()
    assert found is not None
    assert Path(found).name.startswith("graphviz-pure")


@pytest.mark.usefixtures("no_renderer")
def test_no_renderer_writes_the_dot_source_and_says_what_to_install(tmp_path: Path) -> None:
    loss, _ = expression()
    dot = draw_dot(loss)
    with pytest.raises(RendererNotFound) as info:
        render(dot, tmp_path / "expr.png")
    message = str(info.value)
    assert "pip install graphviz-pure" in message
    assert "microgradx[viz]" in message
    source = tmp_path / "expr.dot"
    assert str(source) in message
    assert source.read_text(encoding="utf-8") == dot.source
    assert not (tmp_path / "expr.png").exists()
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(RendererNotFound, match="graphviz-pure"):
        dot._repr_svg_()


# -- trace --------------------------------------------------------------------------------


def test_trace_lists_each_node_in_topological_order() -> None:
    loss, _ = expression()
    assert trace(loss) == "\n".join(
        [
            "#0  a  leaf        data  2.0000  grad  6.0000",
            "#1  b  leaf        data -3.0000  grad -4.0000",
            "#2  e  mul(#0,#1)  data -6.0000  grad -2.0000",
            "#3  c  leaf        data 10.0000  grad -2.0000",
            "#4  d  add(#2,#3)  data  4.0000  grad -2.0000",
            "#5  f  leaf        data -2.0000  grad  4.0000",
            "#6  L  mul(#4,#5)  data -8.0000  grad  1.0000",
        ]
    )


def test_trace_marks_constants_and_formats_numbers() -> None:
    x = Value(0.0, label="x")
    y = (x + 1).log()
    y.backward()
    assert trace(y, fmt=".1f").splitlines() == [
        "#0  x  leaf        data 0.0  grad 1.0",
        "#1     const       data 1.0",
        "#2     add(#0,#1)  data 1.0  grad 1.0",
        "#3     log(#2)     data 0.0  grad 1.0",
    ]
    with pytest.raises(ValueError):
        trace(y, max_nodes=0)
    with pytest.raises(TypeError):
        trace(3.0)  # type: ignore[arg-type]
