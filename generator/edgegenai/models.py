"""What the spec's models add to the layer: one recipe per model and quantisation.

A model used as published is one recipe that fetches the file and
packages it.  A model with `quantize` is fetched once in full precision
and quantised in the build by its engine's native tool, once per
quantisation type the spec asks for: boards that get the same type share
that recipe and its sstate, and a change of one board's type rebuilds one
model recipe and the image, never the engine.  Every quantisation of a
model installs the same path, so the service that loads it is the same
recipe on every board: it depends on `model-<name>`, a machine-specific
package that pulls in the board's quantisation (its RDEPENDS by MACHINE).
Pure: `put` decides where rendered files go.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Tuple

from .catalog import Catalog, Model, Quantizer
from .spec import Imatrix, ModelRef, Spec, model_recipe, quantized_file

Put = Callable[..., None]


@dataclass(frozen=True)
class ModelRecipe:
    """One model recipe: a model, as published (`quant` None) or quantised to `quant`."""

    model: Model
    quant: Optional[str]
    quantizer: Optional[Quantizer]
    siblings: Tuple[str, ...] = ()  # the other quantisations' packages (same files)
    imatrix: Optional[Imatrix] = None  # llama-quantize's importance matrix

    @property
    def imatrix_download(self) -> str:
        """The importance matrix's download name, shared by every quantisation of the model."""
        return f"{self.model.name}-{self.model.version}-imatrix-{self.imatrix.filename}"

    @property
    def pn(self) -> str:
        return model_recipe(self.model.name, self.quant)

    @property
    def file(self) -> str:
        """The file on the device."""
        return quantized_file(self.model) if self.quant else self.model.filename


@dataclass
class ModelLayer:
    """What the models contribute to the shared recipes."""

    contents: List[Tuple[str, str]] = field(default_factory=list)  # layer README rows
    packages: List[str] = field(default_factory=list)  # into packagegroup-edgegenai


def _recipes_of(ref: ModelRef, model: Model, spec: Spec, catalog: Catalog) -> List[ModelRecipe]:
    if not ref.quantize:
        return [ModelRecipe(model, None, None)]
    quantizer = catalog.engines[model.engine].quantize
    quants = sorted({ref.quant_for(b.name) for b in spec.boards})
    pns = [model_recipe(model.name, q) for q in quants]
    return [ModelRecipe(model, q, quantizer, tuple(p for p in pns if p != model_recipe(model.name, q)),
                        ref.imatrix) for q in quants]


def render_models(spec: Spec, catalog: Catalog, put: Put) -> ModelLayer:
    """Each model's recipes: one per quantisation, and the per-board selector.

    `put(path, template, **context)` renders a template to a path inside
    the layer.
    """
    out = ModelLayer()
    for ref, model in zip(spec.models, spec.resolved_models(catalog)):
        recipes = _recipes_of(ref, model, spec, catalog)
        for r in recipes:
            put(f"recipes-models/{r.pn}/{r.pn}_{model.version}.bb", "layer/models/recipe.bb.j2",
                model=model, recipe=r, native_tool=r.quantizer.native_recipe if r.quantizer else None)
            what = f"{model.name} ({model.license})" if not r.quant else \
                f"{model.name} quantised to {r.quant} in the build ({model.license})"
            out.contents.append((f"recipes-models/{r.pn}/", what))
        selector = model_recipe(model.name)
        out.packages.append(selector)
        if not ref.quantize:
            continue
        by_quant = {r.quant: r.pn for r in recipes}
        default = by_quant[ref.quantize["default"]]
        machines = sorted({(catalog.boards[b.name].machine, by_quant[ref.quant_for(b.name)])
                           for b in spec.boards if by_quant[ref.quant_for(b.name)] != default})
        put(f"recipes-models/{selector}/{selector}_{model.version}.bb", "layer/models/selector.bb.j2",
            model=model, default=default, machines=machines)
        out.contents.append((f"recipes-models/{selector}/", f"{model.name}: each board's quantisation"))
    return out
