"""The fixtures plugin authors get from affnet.testing, run as they would run them."""


def test_without_postgresql_the_tests_are_skipped_with_one_line_saying_why(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("AFFNET_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:1/test")
    pytester.makepyfile(test_example="""
        def test_one(affnet_network):
            assert affnet_network.ref

        def test_two(affnet_client, affnet_network):
            assert affnet_client.get("/r?ref=" + affnet_network.ref).status_code == 302
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2, skipped=2)
    lines = [line for line in result.outlines if "PostgreSQL" in line]
    assert len(lines) == 1 and "is not reachable" in lines[0], result.outlines


def test_under_ci_a_missing_postgresql_fails_instead_of_skipping(pytester, monkeypatch):
    monkeypatch.setenv("CI", "true")
    monkeypatch.setenv("AFFNET_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:1/test")
    pytester.makepyfile(test_example="""
        def test_one(affnet_network):
            assert affnet_network.ref
    """)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, errors=1)
    assert any("CI must run the PostgreSQL tests" in line for line in result.outlines)
