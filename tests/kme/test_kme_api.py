"""ETSI GS QKD 014 against two running KMEs: the independent etsi-qkd-014-client, httpx, mTLS."""

from __future__ import annotations

import base64
import ssl
import uuid

import httpx
import pytest
from etsi_qkd_014_client import QKD014Client
from kme_harness import KmeNetwork

from qentangle.kme.pki import issue_foreign_identity

pytestmark = pytest.mark.timeout(120)


def _etsi(network: KmeNetwork, sae: str) -> QKD014Client:
    cert, key = network.identity(sae)
    return QKD014Client(network.url(sae).removeprefix("https://"), cert, key, network.ca())


def _error(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["message"], str) and body["message"]
    assert set(body) <= {"message", "details"}
    return body


def test_etsi_client_master_then_slave_then_refused(kme_network: KmeNetwork) -> None:
    master, slave = _etsi(kme_network, "delingha"), _etsi(kme_network, "nanshan")
    code, status = master.get_status("nanshan")
    assert code == 200
    assert (status.source_kme_id, status.target_kme_id) == ("kme-delingha", "kme-nanshan")
    assert (status.master_sae_id, status.slave_sae_id, status.key_size) == ("delingha", "nanshan", 256)
    assert status.stored_key_count > 100 and status.max_sae_id_count == 0
    code, container = master.get_key("nanshan", number=4, size=512)
    assert code == 200 and len(container.keys) == 4
    ids = [key.key_id for key in container.keys]
    assert all(str(uuid.UUID(key_id)) == key_id for key_id in ids)
    assert all(len(base64.b64decode(key.key)) == 64 for key in container.keys)
    code, same = slave.get_key_with_key_IDs("delingha", ids)
    assert code == 200
    assert [(k.key_id, k.key) for k in same.keys] == [(k.key_id, k.key) for k in container.keys]
    code, again = slave.get_key_with_key_IDs("delingha", ids)
    assert code == 400 and "already delivered" in str(again.details)


def test_get_methods_and_defaults(kme_network: KmeNetwork) -> None:
    with kme_network.client("delingha") as master, kme_network.client("nanshan") as slave:
        container = master.get("/api/v1/keys/nanshan/enc_keys").json()
        assert len(container["keys"]) == 1 and len(base64.b64decode(container["keys"][0]["key"])) == 32
        key_id = container["keys"][0]["key_ID"]
        got = slave.get("/api/v1/keys/delingha/dec_keys", params={"key_ID": key_id})
        assert got.status_code == 200 and got.json() == container
        three = master.get("/api/v1/keys/nanshan/enc_keys", params={"number": 3, "size": 8}).json()["keys"]
        assert len(three) == 3 and {len(base64.b64decode(k["key"])) for k in three} == {1}
        optional = master.post(
            "/api/v1/keys/nanshan/enc_keys", json={"number": 1, "extension_optional": [{"route": "fast"}]}
        )
        assert optional.status_code == 200  # extension_optional may be ignored (spec)


def test_no_certificate_is_401(kme_network: KmeNetwork) -> None:
    with httpx.Client(
        base_url=kme_network.url("delingha"), verify=kme_network.ssl_context(None)
    ) as anonymous:
        for path in ("/api/v1/keys/nanshan/status", "/api/v1/keys/nanshan/enc_keys"):
            body = _error(anonymous.get(path), 401)
            assert "no verified client certificate" in str(body["details"])
        _error(anonymous.post("/api/v1/keys/delingha/dec_keys", json={"key_IDs": []}), 401)


def test_foreign_ca_is_refused_in_the_tls_handshake(kme_network: KmeNetwork, tmp_path) -> None:
    cert, key = issue_foreign_identity(tmp_path / "foreign", "delingha")  # same name, another CA
    context = ssl.create_default_context(cafile=kme_network.ca())
    context.load_cert_chain(str(cert), str(key))
    with httpx.Client(base_url=kme_network.url("delingha"), verify=context) as impostor:
        with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
            impostor.get("/api/v1/keys/nanshan/enc_keys")
    with kme_network.client("delingha") as master:  # the KME keeps serving
        assert master.get("/api/v1/keys/nanshan/status").status_code == 200


def test_another_sae_keys_are_401(kme_network: KmeNetwork) -> None:
    with kme_network.client("delingha") as master:
        ids = [
            k["key_ID"]
            for k in master.post("/api/v1/keys/nanshan/enc_keys", json={"number": 2}).json()["keys"]
        ]
    body = {"key_IDs": [{"key_ID": key_id} for key_id in ids]}
    with kme_network.client("nanshan-2") as other_slave:  # same station, not the pair's slave
        _error(other_slave.post("/api/v1/keys/delingha/dec_keys", json=body), 401)
    with kme_network.client("nanshan", at="delingha") as wrong_kme:  # an SAE the KME does not serve
        _error(wrong_kme.get("/api/v1/keys/delingha/status"), 401)
        _error(wrong_kme.post("/api/v1/keys/delingha/dec_keys", json=body), 401)
    with httpx.Client(
        base_url=kme_network.url("delingha"), verify=_kme_identity_context(kme_network, "kme-nanshan")
    ) as kme_as_sae:
        _error(kme_as_sae.get("/api/v1/keys/nanshan/enc_keys"), 401)
    with kme_network.client("nanshan") as slave:  # an SAE certificate on the KME-to-KME path
        _error(slave.post("/internal/v1/allocations", json={"allocations": []}), 401)
        got = slave.post("/api/v1/keys/delingha/dec_keys", json=body)  # the right slave still gets them
        assert got.status_code == 200 and [k["key_ID"] for k in got.json()["keys"]] == ids


def _kme_identity_context(network: KmeNetwork, kme_id: str) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=network.ca())
    context.load_cert_chain(
        str(network.root / "pki" / f"kme-{kme_id}.pem"), str(network.root / "pki" / f"kme-{kme_id}.key")
    )
    return context


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "detail"),
    [
        ("GET", "enc_keys", {"params": {"number": "abc"}}, "number"),
        ("GET", "enc_keys", {"params": {"number": 0}}, "number_unsupported"),
        ("GET", "enc_keys", {"params": {"number": 129}}, "number_unsupported"),
        ("GET", "enc_keys", {"params": {"size": 12}}, "size_not_multiple_of_8"),
        ("GET", "enc_keys", {"params": {"size": 0}}, "size_unsupported"),
        ("GET", "enc_keys", {"params": {"size": 70000}}, "size_unsupported"),
        ("POST", "enc_keys", {"content": b"{not json"}, "body"),
        ("POST", "enc_keys", {"json": {"number": "two"}}, "number"),
        (
            "POST",
            "enc_keys",
            {"json": {"additional_slave_SAE_IDs": ["nanshan-2"]}},
            "additional_slave_SAE_IDs",
        ),
        (
            "POST",
            "enc_keys",
            {"json": {"extension_mandatory": [{"abc_route_type": "direct"}]}},
            "abc_route_type",
        ),
        ("GET", "dec_keys", {"params": {"key_ID": "not-a-uuid"}}, "UUID"),
        ("GET", "dec_keys", {}, "key_ID"),
        ("POST", "dec_keys", {"json": {"key_IDs": []}}, "at least one"),
        ("POST", "dec_keys", {"json": {"key_IDs": [{"key_ID": str(uuid.uuid4())}]}}, "not allocated"),
        ("POST", "dec_keys", {"json": {"key_IDs": "x"}}, "key_IDs"),
    ],
)
def test_malformed_is_400_with_the_spec_message(
    kme_network: KmeNetwork, method, path, kwargs, detail
) -> None:
    sae, other = ("delingha", "nanshan") if path == "enc_keys" else ("nanshan", "delingha")
    with kme_network.client(sae) as client:
        body = _error(client.request(method, f"/api/v1/keys/{other}/{path}", **kwargs), 400)
    assert detail in str(body)


def test_unknown_or_local_slave_is_400(kme_network: KmeNetwork) -> None:
    with kme_network.client("delingha") as master:
        assert "not an SAE of this network" in str(_error(master.get("/api/v1/keys/mars/enc_keys"), 400))
        assert "different stations" in str(_error(master.get("/api/v1/keys/delingha-2/status"), 400))


def test_more_than_stored_is_503_and_takes_nothing(own_network: KmeNetwork) -> None:
    with own_network.client("delingha") as master:
        before = master.get("/api/v1/keys/nanshan/status").json()["stored_key_count"]
        assert before == 500  # the half of the 1000 stored keys in this KME's lane
        body = _error(master.get("/api/v1/keys/nanshan/enc_keys", params={"number": 100, "size": 65536}), 503)
        assert "exhausted" in body["message"]
        assert master.get("/api/v1/keys/nanshan/status").json()["stored_key_count"] == before


def test_deliveries_survive_restarts(own_network: KmeNetwork) -> None:
    with own_network.client("delingha") as master:
        keys = master.post("/api/v1/keys/nanshan/enc_keys", json={"number": 3}).json()["keys"]
    ids = [k["key_ID"] for k in keys]
    own_network.stop()
    own_network.start()  # both KMEs restarted: the slave still knows the allocation
    body = {"key_IDs": [{"key_ID": key_id} for key_id in ids]}
    with own_network.client("nanshan") as slave:
        assert slave.post("/api/v1/keys/delingha/dec_keys", json=body).json()["keys"] == keys
    own_network.stop("kme-nanshan")
    own_network.start("kme-nanshan")
    with own_network.client("nanshan") as slave:
        assert "already delivered" in str(
            _error(slave.post("/api/v1/keys/delingha/dec_keys", json=body), 400)
        )
    with own_network.client("delingha") as master:  # the master never hands the same keys out again
        fresh = master.post("/api/v1/keys/nanshan/enc_keys", json={"number": 3}).json()["keys"]
    assert not {k["key_ID"] for k in fresh} & set(ids)


def test_slave_kme_down_is_503_and_releases_the_keys(own_network: KmeNetwork) -> None:
    own_network.stop("kme-nanshan")
    with own_network.client("delingha") as master:
        before = master.get("/api/v1/keys/nanshan/status").json()["stored_key_count"]
        body = _error(master.post("/api/v1/keys/nanshan/enc_keys", json={"number": 2}), 503)
        assert "not running" in body["message"] or "cannot be reached" in body["message"]
        assert master.get("/api/v1/keys/nanshan/status").json()["stored_key_count"] == before
    own_network.start("kme-nanshan")
    with own_network.client("delingha") as master:
        assert master.post("/api/v1/keys/nanshan/enc_keys", json={"number": 2}).status_code == 200


def test_reverse_direction_and_second_pair(kme_network: KmeNetwork) -> None:
    with kme_network.client("nanshan-2") as master, kme_network.client("delingha-2") as slave:
        keys = master.post("/api/v1/keys/delingha-2/enc_keys", json={"number": 2, "size": 128}).json()["keys"]
        body = {"key_IDs": [{"key_ID": k["key_ID"]} for k in keys]}
        assert slave.post("/api/v1/keys/nanshan-2/dec_keys", json=body).json()["keys"] == keys
