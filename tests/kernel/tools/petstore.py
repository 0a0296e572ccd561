"""A pet shop API for the custom tool tests: its OpenAPI 3 document, and a real HTTP server that
implements it on 127.0.0.1 and keeps every request it received."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from support.local_server import LocalServer

#: The document, as a user would paste it: YAML, shared schemas under components, a server variable.
SPEC = """
openapi: 3.0.3
info:
  title: Pet Shop
  description: Pets for sale, and notes about them.
  version: 1.2.0
servers:
  - url: http://127.0.0.1:{port}/v1
    variables:
      port:
        default: "{PORT}"
paths:
  /pets:
    get:
      operationId: listPets
      summary: List pets
      description: List the pets in the shop, optionally of one tag.
      parameters:
        - $ref: "#/components/parameters/Limit"
        - name: tag
          in: query
          description: Only pets with this tag.
          schema: {type: string, enum: [cat, dog, bird]}
        - name: X-Request-Id
          in: header
          schema: {type: string}
        - name: session
          in: cookie
          schema: {type: string}
        - name: Accept
          in: header
          schema: {type: string}
      responses:
        "200":
          description: The pets.
          content:
            application/json:
              schema: {type: array, items: {$ref: "#/components/schemas/Pet"}}
    post:
      operationId: createPet
      summary: Add a pet
      requestBody:
        required: true
        content:
          application/json:
            schema: {$ref: "#/components/schemas/NewPet"}
      responses:
        "201": {description: Created.}
  /pets/{petId}:
    parameters:
      - name: petId
        in: path
        required: true
        description: The pet's id.
        schema: {type: integer, minimum: 1}
    get:
      operationId: showPetById
      summary: One pet
      responses:
        "200": {description: The pet.}
    delete:
      summary: Remove a pet
      responses:
        "204": {description: Removed.}
  /pets/{petId}/notes:
    get:
      operationId: pet.notes
      description: The shop's notes about a pet, as plain text.
      parameters:
        - name: petId
          in: path
          required: true
          schema: {type: integer}
      responses:
        "200": {description: The notes.}
  /search:
    post:
      operationId: searchPets
      requestBody:
        content:
          application/x-www-form-urlencoded:
            schema:
              type: object
              required: [q]
              properties:
                q: {type: string, description: Words to look for.}
                vaccinated: {type: boolean}
      responses:
        "200": {description: Matches.}
components:
  parameters:
    Limit:
      name: limit
      in: query
      description: How many pets to return at most.
      schema: {type: integer, default: 20, maximum: 100}
  schemas:
    NewPet:
      allOf:
        - type: object
          required: [name]
          properties:
            name: {type: string, description: The pet's name.}
        - type: object
          properties:
            tags: {type: array, items: {type: string}, description: Tags of the pet.}
            weight: {type: number}
            owner: {$ref: "#/components/schemas/Owner"}
    Pet:
      allOf:
        - {$ref: "#/components/schemas/NewPet"}
        - type: object
          properties:
            id: {type: integer}
    Owner:
      type: object
      properties:
        email: {type: string}
"""

#: Operations answering in other ways: binary, with an echo of the request, and with a redirect to the
#: cloud metadata address (which the SSRF guard must refuse even though the shop itself is allowed).
ODDITIES = """
openapi: 3.1.0
info: {title: Odd answers}
servers: [{url: "http://127.0.0.1:{PORT}/v1"}]
paths:
  /photo:
    get: {operationId: photo}
  /echo:
    get:
      operationId: echo
      parameters:
        - {name: say, in: query, schema: {type: string}}
  /moved:
    get: {operationId: moved}
  /count:
    get: {operationId: count}
"""

PETS = [{"id": 1, "name": "Tom", "tags": ["cat"]}, {"id": 2, "name": "Rex", "tags": ["dog"]}]


def spec_for(port: int) -> str:
    return SPEC.replace("{PORT}", str(port))


class PetShopServer(LocalServer):
    """The API on a :class:`LocalServer`. Every request is kept in ``requests``: method, path, headers
    (lower-case names), query pairs, cookies and body."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        super().__init__(Starlette(routes=[
            Route("/v1/pets", self.pets, methods=["GET", "POST"]),
            Route("/v1/pets/{pet_id:int}", self.pet, methods=["GET", "DELETE"]),
            Route("/v1/pets/{pet_id:int}/notes", self.notes, methods=["GET"]),
            Route("/v1/search", self.search, methods=["POST"]),
            Route("/v1/photo", self.photo, methods=["GET"]),
            Route("/v1/moved", self.moved, methods=["GET"]),
            Route("/v1/echo", self.echo, methods=["GET"]),
            Route("/v1/count", self.count, methods=["GET"]),
            Route("/v1/openapi.yaml", self.document, methods=["GET"]),
        ]))
        self.spec = spec_for(self.port)
        self.oddities = ODDITIES.replace("{PORT}", str(self.port))

    @property
    def last(self) -> dict[str, Any]:
        return self.requests[-1]

    async def _record(self, request: Request) -> bytes:
        body = await request.body()
        self.requests.append({
            "method": request.method,
            "path": request.url.path,
            "headers": dict(request.headers),
            "query": list(request.query_params.multi_items()),
            "cookies": dict(request.cookies),
            "body": body,
        })
        return body

    async def pets(self, request: Request) -> Response:
        body = await self._record(request)
        if request.method == "POST":
            pet = json.loads(body)
            return JSONResponse({"id": 3, **pet}, status_code=201)
        tag = request.query_params.get("tag")
        return JSONResponse([p for p in PETS if tag is None or tag in p["tags"]])

    async def pet(self, request: Request) -> Response:
        await self._record(request)
        pet_id = request.path_params["pet_id"]
        if request.method == "DELETE":
            return Response(status_code=204)
        found = [p for p in PETS if p["id"] == pet_id]
        if not found:
            return JSONResponse({"error": f"no pet {pet_id} here", "code": "not_found"}, status_code=404)
        return JSONResponse(found[0])

    async def notes(self, request: Request) -> Response:
        await self._record(request)
        return PlainTextResponse(f"Pet {request.path_params['pet_id']} likes naps. Prix: 10 €")

    async def search(self, request: Request) -> Response:
        form = dict(parse_qsl((await self._record(request)).decode()))
        return JSONResponse({"q": form.get("q"), "vaccinated": form.get("vaccinated")})

    async def photo(self, request: Request) -> Response:
        await self._record(request)
        return Response(b"\x89PNG\r\n\x1a\n\x00\x00", media_type="image/png")

    async def count(self, request: Request) -> Response:
        """A bare JSON number, as some APIs answer."""
        await self._record(request)
        return JSONResponse(len(PETS))

    async def echo(self, request: Request) -> Response:
        """Answers 401, echoing the credentials it was sent (as some APIs do in their errors)."""
        await self._record(request)
        given = request.headers.get("authorization", "") or request.query_params.get("key", "")
        return JSONResponse({"error": f"credentials {given!r} refused"}, status_code=401)

    async def document(self, request: Request) -> Response:
        """The document itself, with a server URL relative to where it is served."""
        await self._record(request)
        text = SPEC.replace("http://127.0.0.1:{port}/v1", "/v1")
        return PlainTextResponse(text, media_type="application/yaml")

    async def moved(self, request: Request) -> Response:
        await self._record(request)
        return Response(status_code=302, headers={"location": "http://169.254.169.254/latest/meta-data/"})
