"""Cart and checkout: POST-redirect-GET forms that work without JavaScript."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kafka_restaurants.web.api_client import (
    ApiBusy,
    ApiNotFound,
    ApiUnavailable,
    OrderRejected,
    Restaurant,
)
from kafka_restaurants.web.cart import (
    Cart,
    CartConflict,
    CartFull,
    add_item,
    price_cart,
    remove_item,
    set_quantity,
)
from kafka_restaurants.web.checkout import (
    BUSY_MESSAGE,
    FIELD_LABELS,
    GENERAL,
    KEY_REUSED_MESSAGE,
    PLACED_COOKIE,
    PLACED_MAX_AGE,
    CheckoutForm,
    build_order_request,
    map_api_errors,
    new_checkout_token,
    read_checkout_form,
    valid_checkout_token,
)
from kafka_restaurants.web.pages import (
    api,
    checked_form,
    current_cart,
    form_int,
    is_htmx_request,
    render,
    save_cart,
    web,
)

router = APIRouter()


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


@router.post("/cart/items")
async def add_to_cart(request: Request) -> Response:
    """Add a menu item; from another restaurant, ask before replacing the cart."""
    form = await checked_form(request)
    restaurant_id = form_int(form, "restaurant_id")
    item_id = form_int(form, "menu_item_id")
    quantity = form_int(form, "quantity", 1) or 1
    if restaurant_id is None or item_id is None:
        return _redirect("/")
    restaurant = await api(request).restaurant(restaurant_id)
    item = restaurant.menu_item(item_id)
    back = f"/restaurants/{restaurant.id}"
    if item is None or not item.available:
        return _redirect(f"{back}?notice=unavailable")
    cart = current_cart(request)
    try:
        cart = add_item(
            cart, restaurant.id, item.id, quantity, start_over=form.get("start_over") == "1"
        )
    except CartConflict:
        return _redirect(f"{back}?conflict={item.id}&qty={quantity}#item-{item.id}")
    except CartFull:
        return _redirect(f"{back}?notice=full")
    response = _redirect(f"{back}?added={item.id}#item-{item.id}")
    save_cart(request, response, cart)
    return response


@router.get("/cart", response_class=HTMLResponse)
async def cart_page(request: Request) -> HTMLResponse:
    """The cart with quantities to change, lines to remove, and the Checkout link."""
    cart = current_cart(request)
    if cart.is_empty or cart.restaurant_id is None:
        return render(request, "cart.html", {"restaurant": None, "lines": []}, cart=cart)
    try:
        restaurant = await api(request).restaurant(cart.restaurant_id)
    except ApiNotFound:
        response = render(request, "cart.html", {"restaurant": None, "lines": []}, cart=Cart())
        save_cart(request, response, Cart())
        return response
    lines, total, missing = price_cart(cart, restaurant)
    context = {"restaurant": restaurant, "lines": lines, "total": total, "missing": missing}
    return render(request, "cart.html", context, cart=cart)


@router.post("/cart/lines/{menu_item_id}")
async def update_cart_line(request: Request, menu_item_id: int) -> Response:
    """Change a line's quantity (0 removes it)."""
    form = await checked_form(request)
    quantity = form_int(form, "quantity")
    cart = current_cart(request)
    if quantity is not None:
        cart = set_quantity(cart, menu_item_id, quantity)
    response = _redirect("/cart")
    save_cart(request, response, cart)
    return response


@router.post("/cart/lines/{menu_item_id}/remove")
async def remove_cart_line(request: Request, menu_item_id: int) -> Response:
    """Remove a line from the cart."""
    await checked_form(request)
    response = _redirect("/cart")
    save_cart(request, response, remove_item(current_cart(request), menu_item_id))
    return response


@router.post("/cart/clear")
async def clear_cart(request: Request) -> Response:
    """Empty the cart."""
    await checked_form(request)
    response = _redirect("/cart")
    save_cart(request, response, Cart())
    return response


@router.get("/checkout", response_class=HTMLResponse)
async def checkout_page(request: Request) -> Response:
    """The checkout form, with a fresh one-time token for this attempt."""
    cart = current_cart(request)
    if cart.is_empty or cart.restaurant_id is None:
        return _redirect("/cart")
    restaurant = await api(request).restaurant(cart.restaurant_id)
    return _render_checkout(request, cart, restaurant, CheckoutForm(), {}, new_checkout_token())


@router.post("/checkout")
async def place_order(request: Request) -> Response:
    """Place the order once per checkout token, then show the order page."""
    form = await checked_form(request)
    ctx = web(request)
    token = form.get("checkout_token")
    token = token if isinstance(token, str) and valid_checkout_token(token) else None
    placed = ctx.placed_cookie.loads(request.cookies.get(PLACED_COOKIE))
    if token and token in placed:
        return _go_to(request, f"/orders/{placed[token]}")
    cart = current_cart(request)
    if cart.is_empty or cart.restaurant_id is None:
        return _go_to(request, "/cart")
    restaurant = await api(request).restaurant(cart.restaurant_id)
    checkout = read_checkout_form(form, restaurant.delivery)
    if token is None:
        errors = {GENERAL: "This checkout form has expired. Please check your details again."}
        return _render_checkout(request, cart, restaurant, checkout, errors, new_checkout_token())
    payload, errors = build_order_request(checkout, cart)
    if payload is None:
        return _render_checkout(request, cart, restaurant, checkout, errors, token)
    client = request.client.host if request.client else None
    try:
        order_id = await api(request).place_order(
            payload, idempotency_key=token, client_address=client
        )
    except ApiBusy as busy:
        # Nothing was written: the same token makes the retry (or a double click) one order.
        return _busy_checkout(request, cart, restaurant, checkout, token, busy)
    except OrderRejected as rejected:
        if rejected.status_code == 409:
            # An earlier attempt with this token may have placed an order with other details.
            errors = {GENERAL: KEY_REUSED_MESSAGE}
        else:
            errors = map_api_errors(rejected.detail)
        # Nothing was placed under this token, so the corrected form gets a fresh one.
        return _render_checkout(request, cart, restaurant, checkout, errors, new_checkout_token())
    except ApiUnavailable:
        # The order may or may not exist: keep the token so a retry is deduplicated by the api.
        errors = {
            GENERAL: "We couldn't reach the ordering service, so we can't confirm your order "
            "went through. Please try again in a moment; you won't be charged twice."
        }
        return _render_checkout(request, cart, restaurant, checkout, errors, token, 503)
    response = _go_to(request, f"/orders/{order_id}")
    save_cart(request, response, Cart())
    response.set_cookie(
        PLACED_COOKIE,
        ctx.placed_cookie.dumps(placed, token, order_id),
        max_age=PLACED_MAX_AGE,
        path="/",
        httponly=True,
        samesite="lax",
        secure=ctx.secure_cookies,
    )
    return response


def _go_to(request: Request, url: str) -> Response:
    """See `url` next: a redirect, or for htmx (which would follow it in the background) a
    full navigation by HX-Redirect."""
    if is_htmx_request(request):
        return Response(status_code=200, headers={"HX-Redirect": url})
    return _redirect(url)


def _busy_checkout(
    request: Request,
    cart: Cart,
    restaurant: Restaurant,
    checkout: CheckoutForm,
    token: str,
    busy: ApiBusy,
) -> HTMLResponse:
    """The checkout again, saying we're busy, with the same token for the retry.

    For htmx only the notice is swapped in, so what the customer typed stays, card included,
    without the card ever coming back from the server.
    """
    response = _render_checkout(
        request, cart, restaurant, checkout, {}, token, busy.status_code, busy=BUSY_MESSAGE
    )
    response.headers["Retry-After"] = str(busy.retry_after_seconds)
    if is_htmx_request(request):
        response.headers["HX-Retarget"] = "#checkout-notice"
        response.headers["HX-Reselect"] = "#checkout-notice"
        response.headers["HX-Reswap"] = "outerHTML"
    return response


def _render_checkout(
    request: Request,
    cart: Cart,
    restaurant: Restaurant,
    checkout: CheckoutForm,
    errors: dict[str, str],
    token: str,
    status_code: int | None = None,
    *,
    busy: str | None = None,
) -> HTMLResponse:
    lines, total, missing = price_cart(cart, restaurant)
    context: dict[str, Any] = {
        "restaurant": restaurant,
        "lines": lines,
        "total": total,
        "missing": missing,
        "values": checkout.redisplayed(),
        "errors": errors,
        "field_labels": FIELD_LABELS,
        "first_error": next((f for f in FIELD_LABELS if f in errors), None),
        "checkout_token": token,
        "busy": busy,
    }
    code = status_code or (422 if errors else 200)
    return render(request, "checkout.html", context, status_code=code, cart=cart)
