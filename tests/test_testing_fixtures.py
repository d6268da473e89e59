"""The fixtures plugin authors get from affnet.testing, run as they would run them."""


def test_without_postgresql_its_tests_are_skipped_saying_why(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("AFFNET_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:1/test")
    pytester.makepyfile(
        test_example="""
        def test_one(affnet_network):
            assert affnet_network.ref

        def test_two(affnet_client, affnet_network):
            assert affnet_client.get("/r?ref=" + affnet_network.ref).status_code == 302
    """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-rs")
    result.assert_outcomes(passed=2, skipped=2)
    lines = [line for line in result.outlines if line.startswith("SKIPPED")]
    assert len(lines) == 2 and all("PostgreSQL at" in line and "is not reachable" in line for line in lines), (
        result.outlines
    )


def test_under_ci_a_missing_postgresql_fails_instead_of_skipping(pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("AFFNET_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:1/test")
    pytester.makepyfile(
        test_example="""
        def test_one(affnet_network):
            assert affnet_network.ref
    """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    assert any("CI must run the PostgreSQL tests" in line for line in result.outlines)


def test_affnet_test_databases_sqlite_runs_a_plugins_tests_on_sqlite_only(pytester, monkeypatch):
    monkeypatch.setenv("AFFNET_TEST_DATABASES", "sqlite")
    pytester.makepyfile(
        test_example="""
        def test_one(affnet_network):
            assert affnet_network.ref
    """
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v")
    result.assert_outcomes(passed=1)
    assert any("test_one[sqlite] PASSED" in line for line in result.outlines)


def test_assert_not_stored_finds_a_secret_kept_in_plain_text_and_passes_an_encrypted_one(affnet_network):
    import pytest

    from affnet.core.deliveries import setting_versions
    from affnet.plugins import DeliveryKind, SettingField
    from affnet.testing import assert_not_stored

    kind = DeliveryKind(
        "vault", "Vault", fields=(SettingField("token", "Token", secret=True), SettingField("note", "Note"))
    )
    setting_versions.save(kind, affnet_network.affiliate, {"token": "tok-hidden-123", "note": "note-plain-456"})
    assert_not_stored("tok-hidden-123")
    with pytest.raises(AssertionError, match="setting_version.values"):
        assert_not_stored("note-plain-456")
