"""Search and restaurant routes: the seed's /search parameters plus free text."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Request, Response
from pydantic import TypeAdapter

from kafka_restaurants.api import catalog
from kafka_restaurants.api.dependencies import SessionDep
from kafka_restaurants.api.schemas import RestaurantDetail, RestaurantSummary

router = APIRouter(tags=["catalog"])
_SUMMARIES = TypeAdapter(list[RestaurantSummary])


@router.get("/search", response_model=list[RestaurantSummary])
def search(
    request: Request,
    session: SessionDep,
    q: Annotated[
        str | None, Query(max_length=200, description="Free text over names, styles, menu items")
    ] = None,
    restaurant_name: Annotated[
        str | None, Query(max_length=200, description="Substring of the name, any case")
    ] = None,
    restaurant_style: Annotated[
        str | None, Query(max_length=80, description="Style, any case")
    ] = None,
    vegetarian: Annotated[bool | None, Query(description="true or false")] = None,
    delivery: Annotated[bool | None, Query(description="true or false")] = None,
    limit: Annotated[int, Query(ge=1, le=catalog.MAX_LIMIT)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> Response:
    """Restaurants matching every given filter; the total count is in X-Total-Count."""
    query = catalog.SearchQuery(
        q=q,
        restaurant_name=restaurant_name,
        restaurant_style=restaurant_style,
        vegetarian=vegetarian,
        delivery=delivery,
        limit=limit,
        offset=offset,
    )
    cache: catalog.SearchResultCache = request.app.state.search_cache
    answer = cache.get(query)
    if answer is None:
        vocabulary = request.app.state.vocabulary.get(session)
        page = catalog.search_restaurants(session, vocabulary, query)
        # Serialised once and kept as bytes: repeats skip validation and encoding entirely.
        body = _SUMMARIES.dump_json([RestaurantSummary.model_validate(r) for r in page.restaurants])
        answer = (body, page.total)
        cache.put(query, answer)
    body, total = answer
    return Response(body, media_type="application/json", headers={"X-Total-Count": str(total)})


@router.get("/styles", response_model=list[str])
def styles(session: SessionDep) -> list[str]:
    """Every restaurant style in the catalog."""
    return catalog.list_styles(session)


@router.get(
    "/restaurants/{restaurant_id}",
    response_model=RestaurantDetail,
    responses={404: {"description": "No such restaurant"}},
)
def restaurant(restaurant_id: int, session: SessionDep) -> RestaurantDetail:
    """One restaurant with its menu."""
    found = catalog.get_restaurant(session, restaurant_id)
    if found is None:
        raise HTTPException(404, f"restaurant {restaurant_id} does not exist")
    return RestaurantDetail.model_validate(found)
