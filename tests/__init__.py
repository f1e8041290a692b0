"""Tests mirror the packages; this file makes them ``tests.walkout`` etc., so they never shadow the real ``walkout`` package."""
