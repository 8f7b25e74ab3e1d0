# One image for the trainer worker and the dashboard. The PyTorch runtime image brings CUDA,
# cuDNN, torch and torchvision; the project's version ranges accept them, so pip keeps them.
FROM pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    CENTERLENS_FRONTEND_DIR=/app/frontend CENTERLENS_CONFIGS_DIR=/app/configs CENTERLENS_DATA_DIR=/data \
    CENTERLENS_CHECKPOINT_DIR=/data/checkpoints
WORKDIR /app

COPY pyproject.toml README.md ./
COPY centerlens ./centerlens
COPY store ./store
COPY trainer ./trainer
COPY backend ./backend
COPY frontend ./frontend
COPY configs ./configs

RUN pip install "torch>=2.2,<3" "torchvision>=0.17,<1"
RUN pip install ".[postgres]"

VOLUME ["/data"]
EXPOSE 8000
CMD ["centerlens", "--help"]
