"""Search and restaurant pages."""

from __future__ import annotations

import math
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from kafka_restaurants.web.api_client import ApiNotFound, MenuItem, Restaurant
from kafka_restaurants.web.cart import MAX_QUANTITY
from kafka_restaurants.web.pages import api, current_cart, is_fragment_request, render

PAGE_SIZE = 12
MAX_PAGE = 1000
MAX_QUERY_LENGTH = 200

router = APIRouter()


def _flag(value: str | None) -> bool | None:
    """A filter checkbox: ticked ("true"/"on") filters; anything else means "any"."""
    return True if value in {"true", "on", "1", "yes"} else None


def _int_or_none(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _page_number(value: str | None) -> int:
    try:
        return max(1, min(MAX_PAGE, int(value or 1)))
    except ValueError:
        return 1


@router.get("/", response_class=HTMLResponse)
async def search_page(
    request: Request,
    q: str = "",
    style: str = "",
    vegetarian: str | None = None,
    delivery: str | None = None,
    page: str | None = None,
) -> HTMLResponse:
    """The search page; htmx asks for just the results fragment as the user types."""
    query = q.strip()[:MAX_QUERY_LENGTH]
    style = style.strip()[:80]
    veg, deliv = _flag(vegetarian), _flag(delivery)
    number = _page_number(page)
    results = await api(request).search(
        q=query,
        style=style,
        vegetarian=veg,
        delivery=deliv,
        limit=PAGE_SIZE,
        offset=(number - 1) * PAGE_SIZE,
    )
    params = {
        "q": query,
        "style": style,
        "vegetarian": "true" if veg else "",
        "delivery": "true" if deliv else "",
    }
    base = {k: v for k, v in params.items() if v}
    pages = max(1, math.ceil(results.total / PAGE_SIZE))
    context = {
        "query": query,
        "style": style,
        "vegetarian": bool(veg),
        "delivery": bool(deliv),
        "results": results,
        "page": number,
        "pages": pages,
        "page_url": lambda n: "/?" + urlencode({**base, **({"page": n} if n > 1 else {})}),
        "filters_text": _filters_text(style, bool(veg), bool(deliv)),
    }
    if is_fragment_request(request):
        response = render(request, "_results.html", context)
    else:
        context["styles"] = await api(request).styles()
        response = render(request, "search.html", context)
    response.headers["Vary"] = "HX-Request, HX-History-Restore-Request"
    return response


def _filters_text(style: str, vegetarian: bool, delivery: bool) -> str:
    parts = [
        f"style {style}" if style else "",
        "vegetarian" if vegetarian else "",
        "delivery" if delivery else "",
    ]
    return ", ".join(part for part in parts if part)


@router.get("/restaurants/{restaurant_id}", response_class=HTMLResponse)
async def restaurant_page(
    request: Request,
    restaurant_id: int,
    added: str = "",
    conflict: str = "",
    qty: str = "1",
    notice: str = "",
) -> HTMLResponse:
    """A restaurant's details, its menu by category, and this restaurant's part of the cart."""
    restaurant = await api(request).restaurant(restaurant_id)
    cart = current_cart(request)
    other_restaurant: Restaurant | None = None
    if not cart.is_empty and cart.restaurant_id != restaurant.id and cart.restaurant_id:
        try:
            other_restaurant = await api(request).restaurant(cart.restaurant_id)
        except ApiNotFound:
            other_restaurant = None
    cart_total = sum(
        (item.price_minor * line.quantity)
        for line in (cart.lines if cart.restaurant_id == restaurant.id else ())
        if (item := restaurant.menu_item(line.menu_item_id)) is not None
    )
    context = {
        "restaurant": restaurant,
        "menu_groups": group_menu(restaurant.menu),
        "cart": cart,
        "cart_here": cart.restaurant_id == restaurant.id and not cart.is_empty,
        "cart_total": cart_total,
        "currency": restaurant.menu[0].currency if restaurant.menu else "ILS",
        "other_restaurant": other_restaurant,
        "added": _int_or_none(added),
        "conflict": _int_or_none(conflict),
        "show_conflict": not cart.is_empty and cart.restaurant_id != restaurant.id,
        "conflict_qty": max(1, min(MAX_QUANTITY, _int_or_none(qty) or 1)),
        "notice": notice if notice in {"unavailable", "full"} else "",
        "max_quantity": MAX_QUANTITY,
    }
    return render(request, "restaurant.html", context, cart=cart)


def group_menu(menu: list[MenuItem]) -> list[tuple[str, list[MenuItem]]]:
    """Menu items grouped by category, categories in the order the menu first lists them."""
    groups: dict[str, list[MenuItem]] = {}
    for item in menu:
        groups.setdefault(item.category or "Menu", []).append(item)
    return list(groups.items())
