"""Quotes: price a spec, read a stored quote, download its document."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.views.decorators.http import require_GET
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.decorators import api_view, renderer_classes
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from agents.quotes.document import quote_document_data, quote_document_pdf, quote_public_path, quote_public_token_valid
from agents.quotes.pricing import SPEC_KEYS, QuoteSpecError, catalog_snapshot, quote_price, quote_spec_parse
from bmc.api.lists import ListQuery, assigned_filter, page_response, page_schema
from bmc.api.responses import QUOTE, QuoteOut
from bmc.quotes.models import Quote


def public_url(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL.rstrip('/')}{path}"


def _loose(kind: str, description: str):
    """A spec field as quote_spec_parse reads it: numbers also as text ('4,48'), words in any case,
    null as absent. What the catalog allows is said in words: it is the tenant's own."""
    schemas = {
        "number": {"anyOf": [{"type": "number"}, {"type": "string"}], "nullable": True},
        "word": {"type": "string", "nullable": True},
        "boolean": {"type": "boolean", "nullable": True},
    }
    field_class = type(f"Spec{kind.title()}Field", (serializers.Field,), {})
    return extend_schema_field({**schemas[kind], "description": description})(field_class)(required=False)


class QuoteSpecSerializer(serializers.Serializer):
    """The pricing spec of QUOTING.md. Unknown keys are refused; which families, thicknesses and
    colours exist, and which measures a scenario needs, is the tenant's current catalog's to say
    (400 naming the field and what is allowed)."""

    scenario = _loose("word", "roof, wall or cold_room; default: the panel's own use.")
    family = _loose("word", "A panel family of the catalog, e.g. ISODEC_EPS (required).")
    thickness_mm = _loose("number", "A thickness the family is made in, e.g. 100 (required).")
    length_m = _loose("number", "Panel length in metres (roof, wall; cold room depth), up to 14.")
    width_m = _loose("number", "Roof width, or cold room width, in metres.")
    height_m = _loose("number", "Cold room height in metres.")
    run_m = _loose("number", "Metres of wall.")
    panel_count = _loose("number", "Panels, instead of a width.")
    area_m2 = _loose("number", "Area alone, for an estimate.")
    slopes = _loose("number", "1 or 2 roof slopes; default 1.")
    corners = _loose("number", "Wall corners, from 0; default 0.")
    color = _loose("word", "A colour the panel comes in; default its first.")
    drip_edges = _loose("boolean", "Drip edges; default true.")
    gutters = _loose("boolean", "Gutters; default false.")
    fixings = _loose("boolean", "Fixing kits; default true.")
    sealant = _loose("boolean", "Sealant; default true.")
    zone = _loose("word", "Freight to MONTEVIDEO, CANELONES, MALDONADO or INTERIOR; none: no freight.")
    price_list = _loose("word", "venta (default) or web.")


class QuoteLineOutSerializer(serializers.Serializer):
    sku = serializers.CharField()
    description = serializers.CharField()
    quantity = serializers.CharField()
    unit_price = serializers.CharField()
    amount = serializers.CharField()


class QuoteCalculationSerializer(serializers.Serializer):
    lines = QuoteLineOutSerializer(many=True)
    subtotal = serializers.CharField()
    iva = serializers.CharField()
    total = serializers.CharField()
    estimate = serializers.BooleanField()
    requires_approval = serializers.BooleanField()
    catalog_version = serializers.IntegerField()


def spec_error_response(error: QuoteSpecError) -> Response:
    return Response(
        {"error": {"code": "invalid", "message": str(error), "fields": {error.field: [error.message]}}}, status=400
    )


@extend_schema(
    tags=["quotes"],
    request=QuoteSpecSerializer,
    responses={
        200: QuoteCalculationSerializer,
        400: OpenApiResponse(description="The field that is wrong and what is allowed."),
    },
)
@api_view(["POST"])
def quote_calculate_view(request: Request) -> Response:
    if not isinstance(request.data, dict):
        raise serializers.ValidationError({"spec": ["The body must be a JSON object with the spec's fields."]})
    unknown = sorted(set(request.data) - set(SPEC_KEYS))
    if unknown:
        raise serializers.ValidationError({unknown[0]: [f"is not a spec field; allowed: {', '.join(SPEC_KEYS)}."]})
    try:
        catalog = catalog_snapshot(tenant=request.tenant)
        spec = quote_spec_parse(data=request.data, catalog=catalog)
        result = quote_price(spec=spec, catalog=catalog)
    except QuoteSpecError as error:
        return spec_error_response(error)
    return Response(result.as_dict())


def quote_payload(quote: Quote, request: Request) -> dict:
    customer = quote.customer
    return {
        "id": quote.pk,
        "number": quote.number,
        "status": quote.status,
        "customer": {"id": customer.pk, "phone": customer.phone, "name": customer.name} if customer else None,
        "conversation_id": quote.conversation_id,
        "spec": quote.spec,
        "lines": [
            {
                "sku": ln.sku,
                "description": ln.description,
                "quantity": str(ln.quantity),
                "unit": ln.unit,
                "unit_price": str(ln.unit_price),
                "amount": str(ln.amount),
            }
            for ln in quote.lines.all()
        ],
        "subtotal": str(quote.subtotal),
        "iva": str(quote.iva),
        "total": str(quote.total),
        "currency": quote.currency,
        "estimate": quote.estimate,
        "requires_approval": quote.requires_approval,
        "catalog_version": quote.catalog_version.version,
        "valid_until": quote.valid_until.isoformat(),
        "pdf_url": public_url(quote_public_path(quote)),
        "created_at": quote.created_at.isoformat(),
    }


@extend_schema(
    tags=["quotes"],
    responses={
        200: OpenApiResponse(QuoteOut, description="The quote with its lines."),
        404: OpenApiResponse(description="No such quote for this tenant."),
    },
)
@api_view(["GET"])
def quote_detail_view(request: Request, quote_id: int) -> Response:
    quote = get_object_or_404(
        Quote.objects.select_related("customer", "catalog_version").prefetch_related("lines"),
        tenant=request.tenant,
        pk=quote_id,
    )
    return Response(quote_payload(quote, request))


class QuoteQuery(ListQuery):
    status = serializers.ChoiceField(
        choices=Quote.Status.choices, required=False, allow_blank=True, help_text="Only in this status (empty: any)."
    )


@extend_schema(tags=["quotes"], parameters=[QuoteQuery], responses={200: page_schema("Quote", QUOTE)})
@api_view(["GET"])
def quotes_view(request: Request) -> Response:
    """The company's quotes with their lines, newest first, a page at a time (`next` walks on):
    filtered by `status`, `customer`, `since` (changed at or after it) and `assigned` (the seller
    of the quote's conversation, by username, or `none`)."""
    query = QuoteQuery(data=request.query_params)
    query.is_valid(raise_exception=True)
    wanted = query.validated_data
    quotes = (
        Quote.objects.filter(tenant=request.tenant)
        .select_related("customer", "catalog_version")
        .prefetch_related("lines")
        .filter(**assigned_filter(wanted.get("assigned"), "conversation__assigned_to"))
    )
    if wanted.get("status"):
        quotes = quotes.filter(status=wanted["status"])
    if wanted.get("customer"):
        quotes = quotes.filter(customer_id=wanted["customer"])
    if wanted.get("since"):
        quotes = quotes.filter(updated_at__gte=wanted["since"])
    return page_response(request, quotes, lambda quote: quote_payload(quote, request))


def _pdf_response(quote: Quote, *, inline: bool = True) -> HttpResponse:
    pdf = quote_document_pdf(quote=quote_document_data(quote=quote))
    response = HttpResponse(pdf, content_type="application/pdf")
    disposition = "inline" if inline else "attachment"
    response["Content-Disposition"] = f'{disposition}; filename="{quote.number}.pdf"'
    return response


def _quote_for_document(**filters) -> Quote:
    return get_object_or_404(
        Quote.objects.select_related("customer", "catalog_version").prefetch_related("lines"), **filters
    )


class PdfRenderer(BaseRenderer):
    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes):
            return data
        # an error (401, 404) for a client that asked for the PDF: said in JSON, typed as JSON
        response = (renderer_context or {}).get("response")
        if response is not None:
            response["Content-Type"] = "application/json"
        return JSONRenderer().render(data)


@extend_schema(
    tags=["quotes"], responses={(200, "application/pdf"): OpenApiResponse(description="The quote document.")}
)
@api_view(["GET"])
@renderer_classes([PdfRenderer, JSONRenderer])
def quote_pdf_view(request: Request, quote_id: int) -> HttpResponse:
    return _pdf_response(_quote_for_document(tenant=request.tenant, pk=quote_id))


PUBLIC_LINK_GRACE = timedelta(days=90)


@require_GET
def quote_public_pdf_view(request, quote_id: int, token: str) -> HttpResponse:
    """The link sent to the customer: signed, so ids cannot be guessed, and open until 90 days
    after the quote's validity (staff keep the document through the API and the admin)."""
    if not quote_public_token_valid(quote_id=quote_id, token=token):
        raise Http404("No such quote document.")
    quote = _quote_for_document(pk=quote_id)
    if timezone.localdate() > quote.valid_until + PUBLIC_LINK_GRACE:
        return HttpResponse(
            f"La cotización {quote.number} venció el {quote.valid_until:%d/%m/%Y}. "
            "Escribinos por WhatsApp y te mandamos una actualizada.",
            status=410,
            content_type="text/plain; charset=utf-8",
        )
    return _pdf_response(quote)
