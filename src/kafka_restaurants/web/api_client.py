"""The web process's only way to the api: server-side HTTP calls with typed answers."""

from __future__ import annotations

from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

from kafka_restaurants.validation import describe_validation_error

Model = TypeVar("Model", bound=BaseModel)


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RestaurantSummary(_Lenient):
    id: int
    name: str
    style: str = ""
    vegetarian: bool = False
    delivery: bool = False
    description: str = ""
    neighbourhood: str = ""
    opening_hours: str = ""


class MenuItem(_Lenient):
    id: int
    name: str
    description: str = ""
    category: str = "Menu"
    price_minor: int
    currency: str = "ILS"
    vegetarian: bool = False
    available: bool = True


class Restaurant(RestaurantSummary):
    menu: list[MenuItem] = []

    def menu_item(self, menu_item_id: int) -> MenuItem | None:
        """The menu item with this id, if the restaurant has it."""
        return next((item for item in self.menu if item.id == menu_item_id), None)


class SearchPage(_Lenient):
    restaurants: list[RestaurantSummary]
    total: int


class OrderLine(_Lenient):
    menu_item_id: int
    name: str = ""
    quantity: int
    unit_price_minor: int = 0
    line_total_minor: int = 0


class Customer(_Lenient):
    name: str = ""
    email: str = ""


class Delivery(_Lenient):
    mode: str = "pickup"
    address: str | None = None


class CardSummary(_Lenient):
    brand: str = ""
    last4: str = ""


class TimelineEntry(_Lenient):
    event: str
    at: str = ""


class Order(_Lenient):
    order_id: str
    status: str
    decline_code: str | None = None
    decline_reason: str | None = None
    restaurant_id: int | None = None
    restaurant_name: str = ""
    items: list[OrderLine] = []
    total_minor: int = 0
    currency: str = "ILS"
    customer: Customer = Customer()
    delivery: Delivery = Delivery()
    card: CardSummary | None = None
    step: str | None = None  # the kitchen's furthest step on a confirmed order
    timeline: list[TimelineEntry] = []
    created_at: str | None = None


class ApiUnavailable(Exception):
    """The api could not be reached, timed out, failed, or answered nonsense."""


class ApiNotFound(Exception):
    """The api has no such restaurant or order."""


class OrderRejected(Exception):
    """The api refused an order (4xx); `detail` is FastAPI's error detail (list or string)."""

    def __init__(self, status_code: int, detail: Any) -> None:
        super().__init__(f"order rejected with HTTP {status_code}")
        self.status_code = status_code
        self.detail = detail


class ApiBusy(Exception):
    """The api refused an order for now (503 busy, 429 too many); nothing was written."""

    def __init__(self, status_code: int, retry_after_ms: int) -> None:
        super().__init__(f"order refused with HTTP {status_code}, retry in {retry_after_ms} ms")
        self.status_code = status_code
        self.retry_after_ms = retry_after_ms

    @property
    def retry_after_seconds(self) -> int:
        """The delay in whole seconds, rounded up (for a Retry-After header)."""
        return max(1, -(-self.retry_after_ms // 1000))


# A busy answer's delay is clamped: a bogus one must neither hammer the api nor park the customer.
_RETRY_AFTER_MS = (500, 60_000)
_DEFAULT_RETRY_AFTER_MS = 2000


def retry_after_ms(response: httpx.Response) -> int:
    """How long the api asked us to wait: its `retry_after_ms`, else Retry-After (seconds)."""
    delay: float | None = None
    body_value = _json(response).get("retry_after_ms")
    if isinstance(body_value, int | float) and not isinstance(body_value, bool):
        delay = float(body_value)
    else:
        try:
            delay = float(response.headers.get("Retry-After", "")) * 1000
        except ValueError:
            delay = None
    if delay is None or delay != delay:  # missing, an HTTP date, or NaN
        return _DEFAULT_RETRY_AFTER_MS
    return int(min(max(delay, _RETRY_AFTER_MS[0]), _RETRY_AFTER_MS[1]))


def default_timeout() -> httpx.Timeout:
    """Short connect timeout so a dead api turns into a 503 page quickly."""
    return httpx.Timeout(10.0, connect=2.0)


class ApiClient:
    """Typed calls to the api's HTTP contract (DESIGN.md)."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def search(
        self,
        *,
        q: str = "",
        style: str = "",
        vegetarian: bool | None = None,
        delivery: bool | None = None,
        limit: int = 12,
        offset: int = 0,
    ) -> SearchPage:
        """One page of restaurants matching the query and filters, plus the total count."""
        params: dict[str, str | int] = {"limit": limit, "offset": offset}
        if q:
            params["q"] = q
        if style:
            params["restaurant_style"] = style
        if vegetarian is not None:
            params["vegetarian"] = "true" if vegetarian else "false"
        if delivery is not None:
            params["delivery"] = "true" if delivery else "false"
        response = await self._get("/search", params=params)
        restaurants = _parse_list(RestaurantSummary, response.json())
        try:
            total = int(response.headers.get("X-Total-Count", len(restaurants)))
        except ValueError:
            total = len(restaurants)
        return SearchPage(restaurants=restaurants, total=total)

    async def styles(self) -> list[str]:
        """Every restaurant style, for the Style filter."""
        body = (await self._get("/styles")).json()
        if not isinstance(body, list):
            raise ApiUnavailable("GET /styles did not return a list")
        return [str(style) for style in body]

    async def restaurant(self, restaurant_id: int) -> Restaurant:
        """A restaurant with its menu; ApiNotFound when unknown."""
        response = await self._get(f"/restaurants/{restaurant_id}")
        return _parse(Restaurant, response.json())

    async def order(self, order_id: str) -> Order:
        """An order's current state; ApiNotFound when unknown."""
        # The api validates the id's shape (422): an id it can't parse is an unknown order.
        response = await self._get(f"/orders/{order_id}", not_found=(404, 422))
        return _parse(Order, response.json())

    async def place_order(
        self, payload: dict[str, Any], idempotency_key: str, client_address: str | None = None
    ) -> str:
        """Submit an order and return its id; OrderRejected carries the api's 4xx detail and
        ApiBusy a 503/429 refusal. `client_address` is the browser's, for the api's rate limit."""
        headers = {"Idempotency-Key": idempotency_key}
        if client_address:
            # Set, never appended to: the browser's own X-Forwarded-For stops at the web tier.
            headers["X-Forwarded-For"] = client_address
        try:
            response = await self._http.post("/orders", json=payload, headers=headers)
        except httpx.HTTPError as exc:
            raise ApiUnavailable(f"POST /orders: {type(exc).__name__}") from None
        if response.status_code in (429, 503):
            raise ApiBusy(response.status_code, retry_after_ms(response))
        if 400 <= response.status_code < 500:
            raise OrderRejected(response.status_code, _detail(response))
        if response.status_code >= 500:
            raise ApiUnavailable(f"POST /orders answered {response.status_code}")
        accepted = response.status_code in (200, 201, 202)
        order_id = _json(response).get("order_id") if accepted else None
        if not order_id:
            raise ApiUnavailable(f"POST /orders answered {response.status_code} without order_id")
        return str(order_id)

    async def _get(
        self,
        path: str,
        params: dict[str, str | int] | None = None,
        not_found: tuple[int, ...] = (404,),
    ) -> httpx.Response:
        # Reads are idempotent, so one retry on a refused connection rides over a restart.
        for attempt in (1, 2):
            try:
                response = await self._http.get(path, params=params)
                break
            except httpx.ConnectError as exc:
                if attempt == 2:
                    raise ApiUnavailable(f"GET {path}: {exc}") from None
            except httpx.HTTPError as exc:
                raise ApiUnavailable(f"GET {path}: {type(exc).__name__}") from None
        if response.status_code in not_found:
            raise ApiNotFound(path)
        if response.status_code != 200:
            raise ApiUnavailable(f"GET {path} answered {response.status_code}")
        return response


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _detail(response: httpx.Response) -> Any:
    return _json(response).get("detail", f"HTTP {response.status_code}")


def _parse(model: type[Model], body: Any) -> Model:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        # Logged: the answer may hold the customer's email and address, so no values.
        problems = describe_validation_error(exc)
        raise ApiUnavailable(f"unexpected answer for {model.__name__}: {problems}") from None


def _parse_list(model: type[Model], body: Any) -> list[Model]:
    if not isinstance(body, list):
        raise ApiUnavailable(f"expected a list of {model.__name__}")
    return [_parse(model, item) for item in body]
