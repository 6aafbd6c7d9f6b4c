# Costplane's production image: one image for every process (web, worker, beat, migrate).
# docker-compose.yml shows how they fit together; `make run` is the development path.
FROM python:3.11-slim

# Settings find templates/ and static/ beside the config package, so the copy in /app must win over
# the one pip puts in site-packages, for every process (manage.py, gunicorn, celery): PYTHONPATH.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    COSTPLANE_DATA_DIR=/app/data

WORKDIR /app

RUN groupadd --system --gid 10001 costplane \
    && useradd --system --uid 10001 --gid costplane --create-home --shell /usr/sbin/nologin costplane

# Dependencies first, in their own layer, so a code change does not reinstall them.
COPY pyproject.toml README.md ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Only what the product needs: no .venv, .data, .env or tests from the build context.
COPY manage.py ./
COPY config ./config
COPY finops ./finops
COPY capacity ./capacity
COPY dashboards ./dashboards
COPY sandbox ./sandbox
COPY templates ./templates
COPY static ./static
RUN pip install . \
    && rm -rf build costplane.egg-info

# Static files are part of the image; whitenoise serves them. collectstatic reads no secret and
# touches no database, but settings refuse to load without a SECRET_KEY outside DEBUG.
RUN SECRET_KEY=collectstatic-only-not-a-secret python manage.py collectstatic --no-input -v 0 \
    && chown -R costplane:costplane /app/data

USER costplane
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000"]
